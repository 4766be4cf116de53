package evtemplate

import (
	"errors"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
)

func testEvent(t *testing.T, contentType string, data []byte) *event.Event {
	t.Helper()
	e := event.New()
	e.SetID("o-1")
	e.SetSource("/orders")
	e.SetType("com.example.order.created")
	e.SetExtension("region", "eu")
	e.SetExtension("priority", 3)
	if data != nil {
		e.SetDataContentType(contentType)
		e.DataEncoded = data
	}
	return &e
}

func TestExecute(t *testing.T) {
	jsonEvent := testEvent(t, "application/json", []byte(`{"orderId":42,"big":12345678901234567890,"items":[{"sku":"a"}],"note":"x\u001by"}`))
	numEvent := testEvent(t, "application/json", []byte(`{"orderId":42,"one":1.0,"price":9.50,"tiny":1e-7,"huge":123456789012345678901234567890,"u":18446744073709551615}`))
	tests := []struct {
		name, tmpl string
		e          *event.Event
		want       string
	}{
		{"attributes and data", "{{.type}} {{.data.orderId}}", jsonEvent, "com.example.order.created 42\n"},
		{"extensions keep their type", "{{.region}} {{.priority}}", jsonEvent, "eu 3\n"},
		{"a missing key prints nothing", "[{{.subject}}] [{{.data.nothere}}] [{{.nothere.deeper}}]", jsonEvent, "[] [] []\n"},
		{"numbers as written", "{{.data.big}}", jsonEvent, "12345678901234567890\n"},
		{"objects as JSON", "{{.data.items}}", jsonEvent, `[{"sku":"a"}]` + "\n"},
		{"json and upper", `{{json .data.items}} {{upper .region}} {{lower "AB"}}`, jsonEvent, `[{"sku":"a"}] EU ab` + "\n"},
		{"control characters escaped", "{{.data.note}}", jsonEvent, `x\x1by` + "\n"},
		{"range and if", "{{range .data.items}}{{.sku}};{{end}}{{if .subject}}s{{else}}no subject{{end}}", jsonEvent, "a;no subject\n"},
		{"variables print nothing themselves", "{{$id := .id}}{{$id}}", jsonEvent, "o-1\n"},
		{"variables and chains", "{{$d := .data}}{{$d.orderId}} {{(.data).orderId}} {{with .data}}{{.items}}{{end}}", jsonEvent, `42 42 [{"sku":"a"}]` + "\n"},
		{"a step into a string is nothing", "[{{.type.x}}]", jsonEvent, "[]\n"},
		{"own newline kept", "{{.id}}\n", jsonEvent, "o-1\n"},
		{"text data is a string", "{{.data}}", testEvent(t, "text/plain", []byte("hello")), "hello\n"},
		{"binary data is data_base64", "[{{.data}}] {{.data_base64}}", testEvent(t, "application/octet-stream", []byte{0xff, 0xfe}), "[] //4=\n"},
		{"binary data that is UTF-8 is data_base64 too", "[{{.data}}] {{.data_base64}}", testEvent(t, "application/octet-stream", []byte("hi")), "[] aGk=\n"},
		{"whole numbers are int64", `{{printf "%05d" .data.orderId}} {{if gt .data.orderId 10}}big{{end}} {{if eq .data.one 1}}one{{end}}`, numEvent, "00042 big one\n"},
		{"fractions are float64", `{{.data.price}} {{printf "%.2f" .data.price}} {{if lt .data.price 10.0}}cheap{{end}} {{.data.tiny}}`, numEvent, "9.5 9.50 cheap 1e-7\n"},
		{"integers beyond 64 bits stay exact", `{{.data.huge}} {{printf "%d" .data.huge}} {{.data.u}} {{if gt .data.u 1}}u{{end}}`, numEvent,
			"123456789012345678901234567890 123456789012345678901234567890 18446744073709551615 u\n"},
		{"numbers inside objects", "{{.data}}", numEvent, `{"huge":123456789012345678901234567890,"one":1,"orderId":42,"price":9.5,"tiny":1e-7,"u":18446744073709551615}` + "\n"},
		{"< > & as they are", `{{.data.html}} {{.data.obj}} {{json .data.obj}}`, testEvent(t, "application/json", []byte(`{"html":"<b>&","obj":{"t":"<a>"}}`)), `<b>& {"t":"<a>"} {"t":"<a>"}` + "\n"},
	}
	for _, tt := range tests {
		tmpl, err := Parse(tt.tmpl)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got, err := tmpl.Execute(tt.e)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if string(got) != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParseErrorPosition(t *testing.T) {
	tests := []struct {
		tmpl      string
		line, col int
		msg       string
	}{
		{"{{.type}} {{.data.orderId}", 1, 11, "bad character"},
		{"id={{.id}} {{.x ]}}", 1, 12, `unexpected "]" in operand`},
		{"{{.id}}\n  {{nofunc .x}}", 2, 3, `function "nofunc" not defined`},
		{"{{if .a}}x", 1, 0, "unexpected EOF"},
		{"{{end}}", 1, 1, "unexpected {{end}}"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.tmpl)
		var te *Error
		if !errors.As(err, &te) {
			t.Fatalf("%q: %v, want an *Error", tt.tmpl, err)
		}
		if te.Line != tt.line || te.Col != tt.col || !strings.Contains(te.Msg, tt.msg) {
			t.Errorf("%q: line %d col %d %q, want line %d col %d %q", tt.tmpl, te.Line, te.Col, te.Msg, tt.line, tt.col, tt.msg)
		}
	}
}

// An error while executing names the place and the expression as the user wrote them.
func TestExecuteError(t *testing.T) {
	e := testEvent(t, "application/json", []byte(`{"items":[1],"n":{"m":[]}}`))
	for _, tt := range []struct{ tmpl, want string }{
		{"{{index .data.items 5}}", "line 1, column 3: at <index .data.items 5>: error calling index: index out of range: 5"},
		{"é\n {{printf \"%d\" (index .data.items 5)}}", "line 2, column 17: at <index .data.items 5>: error calling index"},
		{"{{$d := .data}}{{index $d.n.m 1}}", "at <index $d.n.m 1>: "},
		{"{{index (.data).n.m 1}}", "at <index (.data).n.m 1>: "},
		{"{{range .data.items}}{{index . 2}}{{end}}", "line 1, column 24: at <index . 2>: "},
	} {
		tmpl, err := Parse(tt.tmpl)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tmpl.Execute(e)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) && !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "_get") {
			t.Errorf("%q: got %v, want %s", tt.tmpl, err, tt.want)
		}
	}
}

// FuzzTemplate: no template and no event data make Parse or Execute panic.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"{{.type}}", "{{.data.a.b}}", "{{range .data}}{{.}}{{end}}", "{{with $x := .data}}{{$x.a}}{{end}}",
		"{{(.data).a 1}}", "{{index .data 0}}", "{{template \"x\"}}", "{{define \"x\"}}{{.id}}{{end}}{{template \"x\" .}}", "{{.data.a | json | upper}}"} {
		f.Add(s, `{"a":{"b":[1,"x",null]}}`)
	}
	f.Fuzz(func(t *testing.T, text, data string) {
		tmpl, err := Parse(text)
		if err != nil {
			return
		}
		e := testEvent(t, "application/json", []byte(data))
		_, _ = tmpl.Execute(e)
	})
}
