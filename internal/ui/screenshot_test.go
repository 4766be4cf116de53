package ui_test

import (
	"context"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cectl/cectl/internal/listen"
	"github.com/cectl/cectl/internal/ui"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

var screenshots = flag.String("screenshots", "", "write the screenshots of the docs (ui-live.png, light; ui-detail.png, dark) to this `directory`")

// TestScreenshots writes the screenshots of docs/ui.md and the README:
//
//	go test ./internal/ui -run TestScreenshots -screenshots "$PWD/docs"
func TestScreenshots(t *testing.T) {
	if *screenshots == "" {
		t.Skip("writes the docs' screenshots only when asked: -screenshots DIR")
	}
	ctx := newBrowser(t)
	l := startListener(t, ui.Options{}, listen.Config{})
	to := l.url
	mustSend(t, "--to", to, "--type", "com.example.order.placed", "--source", "/shop/orders", "--subject", "order/1041", "-e", "region=eu", "-e", "sampledrate:=10",
		"--data", `{"order":1041,"customer":"ada@example.com","items":[{"sku":"LAMP-7","qty":1,"price":49.5},{"sku":"BULB-2","qty":4,"price":3.25}],"express":true}`)
	mustSend(t, "--to", to, "--mode", "structured", "--type", "com.example.order.paid", "--source", "/shop/payments", "--subject", "order/1041", "--data", `{"order":1041,"amount":62.5,"currency":"EUR"}`)
	mustSend(t, "--to", to, "--type", "com.example.user.created", "--source", "/shop/users", "--subject", "user/42", "--data", `{"id":42,"name":"Ada"}`)
	req, _ := http.NewRequest("POST", to, strings.NewReader(`{"specversion":"1.0","id":"7","source":"/legacy","type":"com.example.order.placed","time":"yesterday"}`))
	req.Header.Set("Content-Type", "application/cloudevents+json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	mustSend(t, "--to", to, "--type", "com.example.order.shipped", "--source", "/shop/shipping", "--subject", "order/1041", "--datacontenttype", "text/plain", "--data", "handed to the carrier")
	mustSend(t, "--to", to, "--type", "com.example.thumbnail", "--source", "/media", "--datacontenttype", "image/png", "--data", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

	openPage(t, ctx, to)
	waitFor(t, ctx, rowCount+` === 6`)
	do(t, ctx, chromedp.Click(chromedp.CSS(`#rows .row:nth-child(6)`)))
	waitFor(t, ctx, `!document.getElementById('detail').hidden`)
	shot(t, ctx, "ui-live.png")

	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
		t.Fatal(err)
	}
	setSel(t, ctx, "#f-cesql", "subject = 'order/1041'")
	do(t, ctx, chromedp.Focus(chromedp.CSS(`#f-cesql`)), chromedp.KeyEvent("\r"))
	waitFor(t, ctx, rowCount+` === 3`)
	do(t, ctx, chromedp.Click(chromedp.CSS(`#rows .row:nth-child(3)`)))
	waitFor(t, ctx, `document.querySelector('#detail h2').textContent === 'com.example.order.placed'`)
	// The data, headers and raw request rather than the attributes, which ui-live.png shows.
	eval[bool](t, ctx, `(() => { const d = document.getElementById('detail'); const h = Array.from(d.querySelectorAll('h3')).find(h => h.textContent === 'Extensions'); d.scrollTop = h.offsetTop - d.offsetTop - 8; return true })()`)
	shot(t, ctx, "ui-detail.png")
}

func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*screenshots, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
