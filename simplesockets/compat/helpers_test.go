package compat_test

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/simplesockets/simplesockets-go/simplesockets/compat"
)

const wait = 10 * time.Second

// startServer sets up and starts a compat Server on a free 127.0.0.1 port;
// the test's cleanup closes it.
func startServer(t testing.TB, maxConns int, cfg compat.ServerSetup) (*compat.Server, string) {
	t.Helper()
	srv := setupServer(t, maxConns, cfg)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	return srv, srv.Addr().String()
}

func setupServer(t testing.TB, maxConns int, cfg compat.ServerSetup) *compat.Server {
	t.Helper()
	if cfg.IP == "" {
		cfg.IP = "127.0.0.1"
	}
	if cfg.Port == 0 {
		cfg.Port = compat.AnyPort
	}
	srv := compat.NewServer(maxConns)
	if err := srv.Setup(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func dial(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// eventually polls cond until it holds, failing the test after the deadline.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, wait)
		}
		<-tick.C
	}
}

type awaiter interface {
	AwaitEvent(time.Duration) (compat.Event, error)
}

// awaitKind returns the next event of kind, skipping others.
func awaitKind(t testing.TB, a awaiter, kind compat.EventKind) compat.Event {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("no %v event within %v", kind, wait)
		}
		ev, err := a.AwaitEvent(left)
		if err != nil {
			t.Fatalf("waiting for %v: %v", kind, err)
		}
		if ev.Kind == kind {
			return ev
		}
	}
}

// expectQuiet asserts that no event comes for d: AwaitEvent times out.
func expectQuiet(t testing.TB, a awaiter, d time.Duration) {
	t.Helper()
	ev, err := a.AwaitEvent(d)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("AwaitEvent(%v) = %v %q (%v), want a timeout", d, ev.Kind, ev.Address, err)
	}
}

// signal returns a channel and a func that sends to it without blocking.
func signal() (chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	return ch, func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func recvOr(t testing.TB, ch <-chan string, what string) string {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatalf("%s: nothing within %v", what, wait)
	}
	return ""
}
