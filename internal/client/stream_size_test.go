package client

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cloudevents/sdk-go/v2/event"
)

// A file that is shorter or longer when it is sent than when it was measured is not sent
// as a body that says it is whole: the server never sees a complete request, and the send
// fails with an error that says the data changed.
func TestSendStreamDataChangedSize(t *testing.T) {
	const size = 100000
	for _, gz := range []bool{false, true} {
		for _, mode := range []binding.Mode{binding.Binary, binding.Structured} {
			for _, sent := range []int{size - 1000, size - 1, size + 1, size + 70000} {
				name := fmt.Sprintf("gzip=%v/%s/%d", gz, mode, sent)
				var mu sync.Mutex
				var complete []int
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					body := io.Reader(r.Body)
					if r.Header.Get("Content-Encoding") == "gzip" {
						zr, err := gzip.NewReader(r.Body)
						if err != nil {
							return
						}
						body = zr
					}
					b, err := io.ReadAll(body)
					if err != nil {
						return
					}
					mu.Lock()
					complete = append(complete, len(b))
					mu.Unlock()
					w.WriteHeader(202)
				}))
				tg, err := Open(srv.URL, Options{Gzip: gz})
				if err != nil {
					t.Fatal(err)
				}
				e := testEvent(t)
				data := strings.Repeat("x", sent)
				open := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(data)), nil }
				d := &binding.StreamData{Open: open, Size: size, Form: binding.FormString, FormSize: size}
				e.DataEncoded = d.StandIn()
				res := tg.(interface {
					SendStream(context.Context, binding.Mode, *event.Event, *binding.StreamData) Result
				}).SendStream(context.Background(), mode, e, d)
				mu.Lock()
				if res.ACK || len(complete) > 0 {
					t.Errorf("%s: ack %v, server read whole bodies of %v", name, res.ACK, complete)
				}
				mu.Unlock()
				if res.Err == nil || !strings.Contains(res.Err.Error(), "changed while it was sent") {
					t.Errorf("%s: error %v, want one saying the data changed", name, res.Err)
				}
				tg.Close()
				srv.Close()
			}
		}
	}
}
