package simplesockets_test

import (
	"context"
	"net"
	"testing"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

const wait = 10 * time.Second

// listening returns a new Server for cfg, listening (on a fresh 127.0.0.1
// port if cfg.Addr is empty) and not yet serving.
func listening(t testing.TB, cfg ss.ServerConfig) *ss.Server {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	srv, err := ss.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	return srv
}

// startServer serves cfg on a fresh 127.0.0.1 port and returns the server
// and its address; cleanup closes it and checks that Serve returned.
func startServer(t testing.TB, cfg ss.ServerConfig) (*ss.Server, string) {
	t.Helper()
	srv := listening(t, cfg)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background()) }()
	t.Cleanup(func() {
		srv.Close()
		select {
		case <-done:
		case <-time.After(wait):
			t.Error("Serve did not return after Close")
		}
	})
	return srv, srv.Addr().String()
}

// serveCtx serves cfg on a fresh 127.0.0.1 port under a context that the
// test cancels; served receives what Serve returned. Cleanup cancels and
// checks that Serve returned.
func serveCtx(t testing.TB, cfg ss.ServerConfig) (*ss.Server, context.CancelFunc, <-chan error) {
	t.Helper()
	srv := listening(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	served, done := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(done)
		served <- srv.Serve(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(wait):
			t.Error("Serve did not return after cancel")
		}
	})
	return srv, cancel, served
}

func dialRaw(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// recv waits for one value on ch, failing the test after the deadline.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatalf("%s: channel closed", what)
		}
		return v
	case <-time.After(wait):
		t.Fatalf("%s: nothing within %v", what, wait)
	}
	var zero T
	return zero
}
