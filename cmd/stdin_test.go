package cmd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// What goes through a cancelInput comes out unchanged, however the reads are sized: a read
// that filled a larger buffer than the next Read asks for is handed out in parts, and the
// error comes after the last byte.
func TestCancelInputKeepsEveryByte(t *testing.T) {
	want := strings.Repeat("0123456789abcdef", 5000)
	for _, size := range []int{1, 7, 512, 64 << 10} {
		var notices int
		in := newCancelInput(context.Background(), iotest.HalfReader(strings.NewReader(want)), func() { notices++ })
		var got bytes.Buffer
		buf := make([]byte, size)
		for i := 0; ; i++ {
			// Ask for less and more in turn.
			n, err := in.Read(buf[:1+i%size])
			got.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if got.String() != want {
			t.Errorf("size %d: got %d bytes, want %d, or different ones", size, got.Len(), len(want))
		}
		if notices != 1 {
			t.Errorf("size %d: notice said %d times, want once", size, notices)
		}
	}
}

// A read that never ends is abandoned as soon as the context is cancelled, with its cause.
func TestCancelInputEndsWithTheContext(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancelCause(context.Background())
	in := newCancelInput(ctx, pr, nil)
	stop := errors.New("stopped")
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel(stop)
	}()
	done := make(chan error, 1)
	go func() {
		_, err := in.Read(make([]byte, 10))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, stop) {
			t.Errorf("err %v, want %v", err, stop)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the read did not end with the context")
	}
	if _, err := in.Read(make([]byte, 10)); !errors.Is(err, stop) {
		t.Errorf("a later read: %v, want %v", err, stop)
	}
}
