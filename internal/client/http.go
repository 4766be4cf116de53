package client

import (
	"bytes"
	"context"
	"net/http"
	"net/url"

	"github.com/cectl/cectl/internal/binding"
)

// NewRequest builds the HTTP request that carries the message to target.
func NewRequest(ctx context.Context, target string, msg binding.Message, extra http.Header, userAgent string) (*http.Request, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	return newRequest(ctx, u, msg, extra, userAgent)
}

// newRequest builds the request for an already parsed URL, which delivery parses once per
// target instead of once per event.
func newRequest(ctx context.Context, u *url.URL, msg binding.Message, extra http.Header, userAgent string) (*http.Request, error) {
	// An empty URL parses at no cost; the copy of u keeps requests independent.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "", bytes.NewReader(msg.Body))
	if err != nil {
		return nil, err
	}
	uc := *u
	req.URL = &uc
	req.Host = uc.Host
	_, hasUA := msg.Header["User-Agent"]
	if len(extra) == 0 && (hasUA || userAgent == "") {
		// Nothing to add: the request takes the message's headers as they are.
		req.Header = msg.Header
		return req, nil
	}
	h := make(http.Header, len(msg.Header)+len(extra)+1)
	for k, v := range msg.Header {
		h[k] = v
	}
	for k, v := range extra {
		h[k] = v
	}
	if _, ok := h["User-Agent"]; !ok && userAgent != "" {
		h["User-Agent"] = []string{userAgent}
	}
	req.Header = h
	// NewRequestWithContext sets GetBody for a bytes.Reader, so retries can send the body
	// again.
	return req, nil
}
