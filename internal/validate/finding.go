// Package validate is cectl's strict CloudEvents linter for the JSON event
// format (spec v1.0.2 and v0.3). It works on the raw bytes with its own
// scanner so that it can see what a decoder hides (duplicate member names,
// invalid UTF-8, escapes that produce control characters, number syntax) and
// point at the exact byte of every problem.
//
// Positions: Offset is a 0-based byte offset into the input. Line and Column
// are 1-based; Column counts Unicode code points (characters) from the start
// of the line, with every byte of an invalid UTF-8 sequence counted as one.
// An "unexpected end of input" points at the last non-blank byte, so every
// position lies inside the input (an empty input reports 1:1, offset 0).
package validate

import "strings"

// Level is the severity of a finding.
type Level uint8

const (
	// Error marks the violation of a MUST in the specification.
	Error Level = iota
	// Warning marks the violation of a SHOULD in the specification.
	Warning
)

// String returns "error" or "warning".
func (l Level) String() string {
	if l == Warning {
		return "warning"
	}
	return "error"
}

// Finding is one problem found in the input.
type Finding struct {
	Rule    string // stable rule name, one of the Rule* constants
	Level   Level
	Pointer string // JSON pointer of the member, e.g. "/time", "/3/time" in a batch
	Offset  int    // byte offset into the input, 0-based
	Line    int    // 1-based
	Column  int    // 1-based, in Unicode code points
	Message string // lower case: what is wrong, what was found, what is expected
}

// Stable rule names. They appear in every output format; never rename one.
const (
	RuleJSONSyntax       = "json-syntax"
	RuleUTF8             = "utf8"
	RuleTrailingData     = "trailing-data"
	RuleDuplicateMember  = "duplicate-member"
	RuleEventObject      = "event-object"
	RuleRequired         = "required-attribute"
	RuleAttributeType    = "attribute-type"
	RuleEmptyValue       = "empty-value"
	RuleSpecVersion      = "specversion"
	RuleBatchSpecVersion = "batch-specversion"
	RuleURIReference     = "uri-reference"
	RuleAbsoluteURI      = "absolute-uri"
	RuleTimeFormat       = "time-format"
	RuleMediaType        = "media-type"
	RuleStringChars      = "string-chars"
	RuleExtensionName    = "extension-name"
	RuleNameLength       = "name-length"
	RuleExtensionType    = "extension-type"
	RuleIntegerRange     = "integer-range"
	RuleDataExclusive    = "data-exclusive"
	RuleBase64           = "base64"
	RuleDataString       = "data-string"
	RuleContentEncoding  = "content-encoding"
	RuleDataSchema       = "data-schema"

	// Lint rules: the naming and versioning guidance of the spec and the
	// primer, checked by `cectl validate` (Options.Rules), not by send's
	// pre-check or listen.
	RuleTypeReverseDNS    = "type-reverse-dns"
	RuleDuplicateID       = "duplicate-id"
	RuleContentTypeData   = "datacontenttype-data"
	RuleTypeVersion       = "type-version"
	RuleDataSchemaVersion = "dataschema-version"
)

// Rule describes one rule for reports that list them (SARIF, help texts).
type Rule struct {
	Name    string
	Level   Level // level before Options.Strict
	Summary string
	Spec    string // where the rule comes from
	Lint    bool   // a lint rule: checked only when Options.Rules is set
	Off     bool   // a lint rule that is off unless enabled (RuleSet.Enable)
}

// Rules returns the description of every rule, in a stable order.
func Rules() []Rule {
	return []Rule{
		{RuleJSONSyntax, Error, "the input is well-formed JSON", "RFC 8259", false, false},
		{RuleUTF8, Error, "the input is valid UTF-8", "RFC 8259 §8.1", false, false},
		{RuleTrailingData, Error, "nothing follows the JSON value", "RFC 8259 §2", false, false},
		{RuleDuplicateMember, Error, "no member name appears twice in an event (a warning inside data)", "JSON format v1.0.2 §3, RFC 8259 §4", false, false},
		{RuleEventObject, Error, "each event is a JSON object", "JSON format v1.0.2 §3, §4.1", false, false},
		{RuleRequired, Error, "id, source, specversion and type are present and not null", "spec v1.0.2 REQUIRED Attributes", false, false},
		{RuleAttributeType, Error, "attributes have the JSON type their CloudEvents type maps to", "JSON format v1.0.2 §2.2", false, false},
		{RuleEmptyValue, Error, "attributes that must be non-empty are not empty strings", "spec v1.0.2 REQUIRED and OPTIONAL Attributes", false, false},
		{RuleSpecVersion, Error, "specversion is a supported and accepted version", "spec v1.0.2 specversion", false, false},
		{RuleBatchSpecVersion, Error, "all events of a batch share one specversion", "JSON format v1.0.2 §4", false, false},
		{RuleURIReference, Error, "URI-reference attributes follow RFC 3986 §4.1", "spec v1.0.2 Type System", false, false},
		{RuleAbsoluteURI, Error, "URI attributes are absolute URIs (RFC 3986 §4.3)", "spec v1.0.2 Type System", false, false},
		{RuleTimeFormat, Error, "Timestamp attributes follow RFC 3339 date-time", "spec v1.0.2 Type System", false, false},
		{RuleMediaType, Error, "datacontenttype is an RFC 2046 media type", "spec v1.0.2 datacontenttype", false, false},
		{RuleStringChars, Error, "strings hold no control characters, noncharacters or unpaired surrogates", "spec v1.0.2 Type System", false, false},
		{RuleExtensionName, Error, "attribute names use only a-z and 0-9 (v0.3: and start with a letter)", "spec v1.0.2 Attribute Naming Convention", false, false},
		{RuleNameLength, Warning, "attribute names are at most 20 characters long", "spec v1.0.2 Attribute Naming Convention", false, false},
		{RuleExtensionType, Error, "extension values are strings, booleans or integers (v0.3: strings, integers or maps)", "JSON format v1.0.2 §2.2", false, false},
		{RuleIntegerRange, Error, "Integer values fit in a signed 32-bit integer", "spec v1.0.2 Type System", false, false},
		{RuleDataExclusive, Error, "data and data_base64 are not both present", "JSON format v1.0.2 §3.1.1", false, false},
		{RuleBase64, Error, "Binary values are standard base64", "JSON format v1.0.2 §2.2, RFC 4648 §4", false, false},
		{RuleDataString, Warning, "data is a string when datacontenttype is not JSON (validate reports it as datacontenttype-data)", "JSON format v1.0.2 §3.1.2", false, false},
		{RuleContentEncoding, Error, "v0.3 datacontentencoding is base64 and only used with string data", "spec v0.3 datacontentencoding", false, false},
		{RuleDataSchema, Error, "data matches the JSON Schema given for it", "spec v1.0.2 dataschema", false, false},
		{RuleTypeReverseDNS, Warning, "type is prefixed with a reverse-DNS name (com.example.order.created)", "spec v1.0.2 type", true, false},
		{RuleDuplicateID, Warning, "no two events of one input share source and id", "spec v1.0.2 id", true, false},
		{RuleContentTypeData, Warning, "datacontenttype matches the data (JSON data is not labelled text/plain, and so on)", "spec v1.0.2 datacontenttype, JSON format v1.0.2 §3.1", true, false},
		{RuleTypeVersion, Warning, "where an input mixes versioned and unversioned forms of a type, every event's type carries its version", "primer: Versioning of CloudEvents; spec v1.0.2 type", true, true},
		{RuleDataSchemaVersion, Warning, "where an input mixes versioned and unversioned forms of a dataschema, every dataschema carries its version", "primer: Versioning of CloudEvents; spec v1.0.2 dataschema", true, true},
	}
}

// Options controls validation.
type Options struct {
	// SpecVersions lists the accepted specversion values ("1.0", "0.3").
	// Nil or empty accepts both.
	SpecVersions []string
	// Strict reports warnings (SHOULD violations) as errors.
	Strict bool
	// Data, when set, checks the data member of every event whose data is
	// JSON (see DataChecker).
	Data DataChecker
	// Rules, when set, turns the lint rules on (those the set enables) and
	// drops the findings of the rules it ignores. Nil: no lint rules, every
	// other rule reported.
	Rules *RuleSet
}

// DataChecker checks the data of an event, e.g. against a JSON Schema.
type DataChecker interface {
	// CheckData is called with the raw JSON text of the data member and the
	// event's dataschema (v0.3: schemaurl), "" when it has none. It reports
	// each problem through report with an offset into data, the JSON
	// pointer inside data, and a message.
	CheckData(data []byte, dataschema string, report func(offset int, pointer, message string))
}

func (o *Options) accepts(version string) bool {
	if len(o.SpecVersions) == 0 {
		return true
	}
	for _, v := range o.SpecVersions {
		if v == version {
			return true
		}
	}
	return false
}

func (o *Options) acceptedList() string {
	if len(o.SpecVersions) == 0 {
		return `"1.0" or "0.3"`
	}
	q := make([]string, len(o.SpecVersions))
	for i, v := range o.SpecVersions {
		q[i] = `"` + v + `"`
	}
	return strings.Join(q, " or ")
}

// Valid reports whether findings hold no error.
func Valid(findings []Finding) bool {
	for i := range findings {
		if findings[i].Level == Error {
			return false
		}
	}
	return true
}
