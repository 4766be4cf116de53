package validate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeSchema(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSchemas(t *testing.T) {
	dir := t.TempDir()
	order := writeSchema(t, dir, "order.json", `{"type":"object","required":["orderId"],
		"properties":{"orderId":{"type":"integer"},"items":{"type":"array","items":{"type":"object","properties":{"sku":{"type":"string","pattern":"^[A-Z]"}}}},"at":{"type":"string","format":"date-time"}}}`)
	user := writeSchema(t, dir, "user.json", `{"type":"object","required":["name"]}`)
	s, err := LoadSchemas(order, map[string]string{"https://example.com/user.json": user})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Data: s}
	tests := []struct {
		name string
		doc  string
		want []want
	}{
		{"valid", ev1(`,"data":{"orderId":1,"items":[{"sku":"A1"}]}`), nil},
		{"wrong type", ev1(`,"data":{"orderId":"x"}`), []want{e(RuleDataSchema, "/data/orderId", `"x"`, 0)}},
		{"missing property", ev1(`,"data":{"id":1}`), []want{e(RuleDataSchema, "/data", `{"id"`, 0)}},
		{"nested array element", ev1(`,"data":{"orderId":1,"items":[{"sku":"A"},{"s\u006bu":"b"}]}`), []want{e(RuleDataSchema, "/data/items/1/sku", `"b"`, 0)}},
		{"format asserted", ev1(`,"data":{"orderId":1,"at":"yesterday"}`), []want{e(RuleDataSchema, "/data/at", `"yesterday"`, 0)}},
		{"mapped by dataschema", ev1(`,"dataschema":"https://example.com/user.json","data":{"orderId":"x"}`), []want{e(RuleDataSchema, "/data", `{"orderId"`, 0)}},
		{"mapped by v0.3 schemaurl", ev03(`,"schemaurl":"https://example.com/user.json","data":{"name":"n"}`), nil},
		{"not JSON data is not checked", ev1(`,"datacontenttype":"text/plain","data":"x"`), nil},
		{"data_base64 is not checked", ev1(`,"data_base64":"eA=="`), nil},
		{"no data", ev1(""), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Event([]byte(tt.doc), opts)
			checkFindings(t, tt.doc, got, tt.want)
			for _, f := range got {
				if !strings.Contains(f.Message, "does not match the schema") {
					t.Errorf("message %q", f.Message)
				}
			}
		})
	}
}

func TestLoadSchemasErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeSchema(t, dir, "bad.json", `{"type":12}`)
	if _, err := LoadSchemas(bad, nil); err == nil || !strings.Contains(err.Error(), "bad.json") {
		t.Errorf("bad schema: %v", err)
	}
	if _, err := LoadSchemas(filepath.Join(dir, "missing.json"), nil); err == nil {
		t.Error("missing schema file: no error")
	}
	if _, err := LoadSchemas("", map[string]string{"urn:x": filepath.Join(dir, "missing.json")}); err == nil || !strings.Contains(err.Error(), "urn:x") {
		t.Errorf("missing mapped schema: %v", err)
	}
}
