package cmd

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// request reads replies with listen's strict decoder: a reply listen would refuse with 400 is
// no reply, and the error says why, naming the rule; a valid one is shown.
func TestRequestReplyIsCheckedLikeListen(t *testing.T) {
	tests := []struct {
		name   string
		header map[string]string
		body   string
		want   string // in the error; "" for a reply that is taken
	}{
		{"float extension", map[string]string{"Content-Type": "application/cloudevents+json"},
			`{"specversion":"1.0","id":"1","source":"/s","type":"t","ext":42.42}`, "[extension-type]"},
		{"upper-case extension", map[string]string{"Content-Type": "application/cloudevents+json"},
			`{"specversion":"1.0","id":"1","source":"/s","type":"t","MyExt":"x"}`, "[extension-name]"},
		{"binary bad time", map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "1", "Ce-Source": "/s", "Ce-Type": "t", "Ce-Time": "soon"},
			``, "ce-time: time \"soon\" is not an RFC 3339 timestamp"},
		{"valid", map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "r1", "Ce-Source": "/s", "Ce-Type": "com.example.pong"}, ``, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			f, out, _ := testFactory("", nil)
			err := runCmd(t, f, func(f *Factory) *cobra.Command { return NewCmdRequest(f, nil) },
				"--to", srv.URL, "--type", "com.example.ping", "-o", "json")
			if tt.want == "" {
				if err != nil || !strings.Contains(out.String(), `"id":"r1"`) {
					t.Fatalf("valid reply: %v, output %q", err, out)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "not a valid CloudEvent") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one saying %q", err, tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("an invalid reply was shown: %q", out)
			}
		})
	}
}
