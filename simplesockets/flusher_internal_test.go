package simplesockets

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// While a reader is in its window (flusher), a Send does not wake the
// flusher goroutine, and the reader writes it when it leaves the window.
func TestReaderWindowWritesQueuedReplies(t *testing.T) {
	srv, err := NewServer(ServerConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, nil) }()
	defer func() {
		cancel()
		<-done
	}()
	nc, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var c *Conn
	select {
	case c = <-srv.Connects():
	case <-time.After(10 * time.Second):
		t.Fatal("no connection")
	}

	fl := srv.h.fl
	fl.enter() // as a reader that has just handed messages over
	if err := c.Send([]byte("reply")); err != nil {
		t.Fatal(err)
	}
	if n := len(fl.wake); n != 0 {
		t.Fatalf("Send during a window woke the flusher (%d tokens)", n)
	}
	// Not written yet: nobody was woken to write it.
	nc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := nc.Read(make([]byte, 16)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read %d bytes, %v, before the window ended", n, err)
	}
	fl.leave(nil)
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, 5)
	if _, err := io.ReadFull(nc, got); err != nil || string(got) != "reply" {
		t.Fatalf("after the window: %q, %v", got, err)
	}
}
