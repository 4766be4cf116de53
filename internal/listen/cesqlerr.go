package listen

import (
	"fmt"
	"github.com/cectl/cectl/internal/suggest"
	"strconv"
	"strings"
	"unicode"

	"github.com/antlr/antlr4/runtime/Go/antlr"
	"github.com/cloudevents/sdk-go/sql/v2/gen"
	"github.com/cloudevents/sdk-go/sql/v2/parser"
)

// cesqlKeywords are the word keywords of the CESQL v1 grammar that a misspelt word is compared
// with.
var cesqlKeywords = []string{"AND", "OR", "XOR", "NOT", "LIKE", "EXISTS", "IN", "TRUE", "FALSE"}

// syntaxListener keeps the first syntax error the CESQL grammar reports.
type syntaxListener struct {
	antlr.DefaultErrorListener
	found     bool
	line, col int
	msg       string
	tok       antlr.Token
	lexical   bool // a character no token starts with
}

func (l *syntaxListener) SyntaxError(r antlr.Recognizer, offending interface{}, line, col int, msg string, _ antlr.RecognitionException) {
	if l.found {
		return
	}
	l.found, l.line, l.col, l.msg = true, line, col, msg
	l.tok, _ = offending.(antlr.Token)
	_, l.lexical = r.(antlr.Lexer)
}

// diagnoseCESQL parses expr with the grammar sdk-go's parser is generated from, keeping where
// the first syntax error is (sdk-go's parser drops it), and describes it: the expression with
// a caret under the error and, when a word next to it is a misspelt keyword, the keyword. It
// returns nil when the grammar finds no syntax error. It runs before sdk-go's parser, whose
// lexer prints its errors on stderr and then skips the character.
func diagnoseCESQL(expr string) (err error) {
	defer func() {
		if recover() != nil {
			err = nil
		}
	}()
	var l syntaxListener
	lexer := gen.NewCESQLParserLexer(parser.NewCaseChangingStream(antlr.NewInputStream(expr), true))
	lexer.RemoveErrorListeners()
	lexer.AddErrorListener(&l)
	tokens := antlr.NewCommonTokenStream(lexer, antlr.TokenDefaultChannel)
	p := gen.NewCESQLParserParser(tokens)
	p.RemoveErrorListeners()
	p.AddErrorListener(&l)
	p.Cesql()
	if !l.found {
		return nil
	}

	line, col := l.line, l.col
	what := describeSyntaxError(&l)
	if kw, word, at := misspeltKeyword(tokens, l.tok); kw != "" {
		line, col = at.GetLine(), at.GetColumn()
		what = fmt.Sprintf("%s is not a keyword: did you mean %s?", word, kw)
	}
	return &SyntaxError{Line: line, Column: col + 1, Msg: what, multiline: strings.Contains(expr, "\n"), caret: caret(expr, line, col)}
}

// SyntaxError is a syntax error in a CESQL expression and where it is, so that a caller can
// point at it (listen --ui marks it in the filter box).
type SyntaxError struct {
	// Line and Column (in characters) are 1-based.
	Line, Column int
	Msg          string
	multiline    bool
	caret        string
}

func (e *SyntaxError) Error() string {
	where := fmt.Sprintf("column %d", e.Column)
	if e.multiline {
		where = fmt.Sprintf("line %d, column %d", e.Line, e.Column)
	}
	return fmt.Sprintf("syntax error at %s: %s\n%s", where, e.Msg, e.caret)
}

// describeSyntaxError turns the grammar's message ("extraneous input 'x' expecting <EOF>",
// "mismatched input '<EOF>' expecting {…}", "missing ')' at '<EOF>'") into a short one.
func describeSyntaxError(l *syntaxListener) string {
	if l.lexical {
		// "token recognition error at: '#'"
		_, text, _ := strings.Cut(l.msg, "at: ")
		return "unexpected character " + quoteToken(strings.TrimSuffix(strings.TrimPrefix(text, "'"), "'"))
	}
	if m, _, _ := strings.Cut(l.msg, " at "); strings.HasPrefix(m, "missing '") {
		return m
	}
	if l.tok == nil || l.tok.GetTokenType() == antlr.TokenEOF {
		return "the expression ends too early"
	}
	if t := l.tok.GetText(); t == "'" || t == `"` {
		return "a string is not closed with " + quoteToken(t)
	}
	return fmt.Sprintf("unexpected %s", quoteToken(l.tok.GetText()))
}

func quoteToken(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return strconv.Quote(s)
	}
	if strings.Contains(s, "'") {
		return `"` + s + `"`
	}
	return "'" + s + "'"
}

// misspeltKeyword looks at the offending token and the one before it: if either is an
// identifier one or two edits away from a keyword ("EXSTS region", "a = 1 ANDD b = 2"), it
// returns the keyword, the word and its token.
func misspeltKeyword(tokens *antlr.CommonTokenStream, at antlr.Token) (string, string, antlr.Token) {
	if at == nil {
		return "", "", nil
	}
	var candidates []antlr.Token
	if i := at.GetTokenIndex(); i > 0 {
		candidates = append(candidates, tokens.Get(i-1))
	}
	candidates = append(candidates, at)
	for _, t := range candidates {
		if t == nil || t.GetTokenType() != gen.CESQLParserLexerIDENTIFIER {
			continue
		}
		word := t.GetText()
		if kw := nearestKeyword(strings.ToUpper(word)); kw != "" {
			return kw, word, t
		}
	}
	return "", "", nil
}

// nearestKeyword returns the keyword closest to w, if it is close enough to be a typo: one edit
// for words of up to four letters, two for longer ones.
func nearestKeyword(w string) string {
	best, bestD := "", 0
	for _, kw := range cesqlKeywords {
		d := suggest.Distance(w, kw)
		limit := 1
		if len(kw) > 4 {
			limit = 2
		}
		if d == 0 || d > limit || len(w) < 2 {
			continue
		}
		if best == "" || d < bestD {
			best, bestD = kw, d
		}
	}
	return best
}

// caret shows line (1-based) of expr, indented, with a caret under column col (0-based, in
// characters). Tabs are shown as spaces so that the caret stays under its character.
func caret(expr string, line, col int) string {
	lines := strings.Split(expr, "\n")
	if line < 1 || line > len(lines) {
		line = len(lines)
	}
	text := []rune(strings.ReplaceAll(strings.TrimRight(lines[line-1], "\r"), "\t", " "))
	col = max(0, min(col, len(text)))
	return "  " + string(text) + "\n  " + strings.Repeat(" ", col) + "^"
}
