package listen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"
)

const eventRequest = "POST / HTTP/1.1\r\nHost: x\r\nCe-Specversion: 1.0\r\nCe-Id: %d\r\nCe-Source: /attack\r\nCe-Type: t\r\nContent-Length: 0\r\n\r\n"

// idleAttack opens n keep-alive connections that each send one request, read its answer and
// then stay open doing nothing.
func idleAttack(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			conns[i] = c
			c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c, eventRequest, i)
			// An answer comes once the listener made room; a connection closed to make room
			// for a later one is fine too.
			if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
				resp.Body.Close()
			}
			c.SetDeadline(time.Time{})
		})
	}
	wg.Wait()
	return conns
}

// slowloris opens n connections that send the start of a request's headers and no more.
func slowloris(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	var conns []net.Conn
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nCe-Specversion: 1.0\r\n")
		conns = append(conns, c)
	}
	return conns
}

// TestServerAnswersDuringConnectionAttacks: while 512 idle keep-alive connections, or 600
// connections that never finish their headers, are open, a normal request is still answered
// within a second — with the bound the open-file limit allows, and with a bound the attack
// exceeds, where idle and slow connections are closed to make room.
func TestServerAnswersDuringConnectionAttacks(t *testing.T) {
	// Each attacking connection takes two files here, the client's and the server's: where
	// the open-file limit is low, fewer attack, still more than the bound of 256.
	files := connLimit() + reservedFiles
	for _, maxConns := range []int{0, 256} {
		for _, attack := range []struct {
			name string
			run  func(*testing.T, string, int) []net.Conn
			n    int
		}{
			{"idle keep-alive", idleAttack, 512},
			{"slowloris", slowloris, 600},
		} {
			t.Run(fmt.Sprintf("%s/max %d", attack.name, maxConns), func(t *testing.T) {
				n := min(attack.n, (files-200)/2)
				if n < attack.n {
					t.Logf("%d attacking connections, as the open-file limit allows", n)
				}
				h := NewHandler(Config{})
				srv, err := Listen(h, ServerOptions{Addr: "127.0.0.1:0", MaxConns: maxConns})
				if err != nil {
					t.Fatal(err)
				}
				go srv.Serve()
				defer srv.Shutdown(context.Background())
				conns := attack.run(t, srv.Addr().String(), n)
				defer func() {
					for _, c := range conns {
						if c != nil {
							c.Close()
						}
					}
				}()
				c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
				for i := range 3 {
					req, _ := http.NewRequest("POST", srv.URL(), nil)
					for k, v := range map[string]string{"Ce-Specversion": "1.0", "Ce-Id": fmt.Sprint("normal-", i), "Ce-Source": "/s", "Ce-Type": "t"} {
						req.Header.Set(k, v)
					}
					start := time.Now()
					resp, err := c.Do(req)
					took := time.Since(start)
					if err != nil {
						t.Fatalf("normal request %d: %v after %s", i, err, took)
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusAccepted || took > time.Second {
						t.Errorf("normal request %d: %d after %s", i, resp.StatusCode, took)
					}
				}
				if maxConns > 0 {
					if n := srv.ln.Open(); n > maxConns {
						t.Errorf("%d connections open with a bound of %d", n, maxConns)
					}
				}
			})
		}
	}
}

// TestConnVictimOrder: room is made by closing the longest-idle connection first, then the
// oldest one slow with its headers; one being served, or young, never.
func TestConnVictimOrder(t *testing.T) {
	now := time.Unix(1000, 0)
	tr := newConnTracker(nil, 10)
	tr.now = func() time.Time { return now }
	tr.start = now.Add(-time.Hour)
	add := func(p connPhase, age time.Duration) *trackedConn {
		c := &trackedConn{t: tr}
		c.state.Store(int64(time.Hour-age)<<2 | int64(p))
		tr.conns[c] = struct{}{}
		return c
	}
	serving := add(phaseServing, 0)
	young := add(phaseHeaders, 10*time.Millisecond)
	slowOld := add(phaseHeaders, 5*time.Second)
	slowNewer := add(phaseHeaders, time.Second)
	idleNewer := add(phaseIdle, time.Second)
	idleOld := add(phaseIdle, time.Minute)
	for i, want := range []*trackedConn{idleOld, idleNewer, slowOld, slowNewer, nil} {
		tr.mu.Lock()
		got := tr.victimLocked()
		tr.mu.Unlock()
		if got != want {
			t.Fatalf("victim %d: %p, want %p", i, got, want)
		}
	}
	if _, ok := tr.conns[serving]; !ok {
		t.Error("a connection being served was picked")
	}
	if _, ok := tr.conns[young]; !ok {
		t.Error("a connection that just began its headers was picked")
	}
}

// Deadlines are enforced by the tracker's sweep: a read blocked past its deadline fails with
// os.ErrDeadlineExceeded, a deadline moved or cleared in time does not fire, and a deadline
// already past interrupts a read at once.
func TestTrackedConnDeadlines(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := newConnTracker(ln, 10)
	defer tr.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := tr.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 1)
	timedOut := func() (time.Duration, bool) {
		start := time.Now()
		_, err := c.Read(buf)
		return time.Since(start), errors.Is(err, os.ErrDeadlineExceeded)
	}

	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if took, ok := timedOut(); !ok || took > 100*time.Millisecond+2*deadlineTick {
		t.Fatalf("a read past its deadline: timed out %v after %v", ok, took)
	}
	// The connection held that deadline; a new one replaces it there.
	c.SetReadDeadline(time.Now().Add(time.Hour))
	go func() {
		time.Sleep(2 * deadlineTick)
		client.Write([]byte("x"))
	}()
	if _, err := c.Read(buf); err != nil {
		t.Fatalf("a read with its deadline moved away: %v", err)
	}
	// A deadline cleared before it passes does not fire.
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	c.SetReadDeadline(time.Time{})
	go func() {
		time.Sleep(2 * deadlineTick)
		client.Write([]byte("y"))
	}()
	if _, err := c.Read(buf); err != nil {
		t.Fatalf("a read with its deadline cleared: %v", err)
	}
	// A deadline in the past interrupts a blocked read at once (net/http aborts reads so).
	go func() {
		time.Sleep(50 * time.Millisecond)
		c.SetReadDeadline(time.Unix(1, 0))
	}()
	if took, ok := timedOut(); !ok || took > deadlineTick {
		t.Fatalf("a read interrupted by a past deadline: timed out %v after %v", ok, took)
	}
	// Writes too.
	c.SetDeadline(time.Time{})
	c.SetWriteDeadline(time.Now().Add(-time.Second))
	if _, err := c.Write([]byte("z")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a write past its deadline: %v", err)
	}
}
