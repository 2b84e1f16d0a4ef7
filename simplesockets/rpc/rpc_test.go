package rpc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
	"github.com/simplesockets/simplesockets-go/simplesockets/rpc"
	"github.com/simplesockets/simplesockets-go/simplesockets/sstest"
)

const wait = 10 * time.Second

// serve starts a LengthPrefixed server whose loop hands every decoded
// request to handle, and returns it with its address.
func serve(t *testing.T, handle func(rpc.Request)) *sstest.Server {
	t.Helper()
	srv := sstest.NewServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.LengthPrefixed(0)}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range srv.Messages() {
			req, err := rpc.Decode(m)
			if err != nil {
				t.Errorf("Decode: %v", err)
				continue
			}
			handle(req)
		}
	}()
	t.Cleanup(func() { srv.Close(); <-done })
	return srv
}

func dial(t *testing.T, srv *sstest.Server, cfg rpc.Config, ccfg ss.ClientConfig) *rpc.Client {
	t.Helper()
	ccfg.Addr, ccfg.Framing = srv.Addr, ss.LengthPrefixed(0)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := rpc.Dial(ctx, ccfg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func echo(req rpc.Request) {
	if req.ID != 0 {
		req.Reply(req.Data)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(wait); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, wait)
		}
	}
}

func TestConcurrentCalls(t *testing.T) {
	srv := serve(t, echo)
	c := dial(t, srv, rpc.Config{}, ss.ClientConfig{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				want := fmt.Appendf(nil, "g%d-%d", g, i)
				got, err := c.Call(ctxT(t), want)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("call %s: %q, %v", want, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if st := c.Stats(); st.Calls != 1600 || st.Replies != 1600 || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// Replies may overtake each other: each call gets its own.
func TestRepliesOutOfOrder(t *testing.T) {
	const n = 10
	reqs := make(chan rpc.Request, n)
	srv := serve(t, func(r rpc.Request) { reqs <- r })
	c := dial(t, srv, rpc.Config{}, ss.ClientConfig{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := fmt.Sprint(i)
			got, err := c.Call(ctxT(t), []byte(want))
			if err != nil || string(got) != "re "+want {
				t.Errorf("call %s: %q, %v", want, got, err)
			}
		}()
	}
	var held []rpc.Request
	for range n {
		held = append(held, <-reqs)
	}
	for i := n - 1; i >= 0; i-- { // last in, first answered
		held[i].Reply(append([]byte("re "), held[i].Data...))
	}
	wg.Wait()
}

// A cancelled call is forgotten; its late reply is dropped and counted.
func TestCallContextCancel(t *testing.T) {
	reqs := make(chan rpc.Request, 1)
	srv := serve(t, func(r rpc.Request) { reqs <- r })
	c := dial(t, srv, rpc.Config{}, ss.ClientConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Call(ctx, []byte("slow"))
		errc <- err
	}()
	req := <-reqs
	cancel()
	err := <-errc
	var ce *rpc.CallError
	if !errors.As(err, &ce) || !ce.Sent || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	req.Reply([]byte("too late"))
	eventually(t, "late reply counted", func() bool { return c.Stats().LateReplies == 1 })
	if st := c.Stats(); st.Pending != 0 || st.Replies != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// When the connection ends, every pending call returns at once, saying the
// request was sent; later calls fail fast, saying it was not.
func TestDisconnectFailsPendingCalls(t *testing.T) {
	const n = 5
	reqs := make(chan rpc.Request, n)
	srv := serve(t, func(r rpc.Request) { reqs <- r })
	c := dial(t, srv, rpc.Config{}, ss.ClientConfig{})
	errc := make(chan error, n)
	for range n {
		go func() {
			_, err := c.Call(context.Background(), []byte("q"))
			errc <- err
		}()
	}
	var conn *ss.Conn
	for range n {
		conn = (<-reqs).Conn
	}
	start := time.Now()
	conn.Close()
	for range n {
		err := <-errc
		var ce *rpc.CallError
		if !errors.As(err, &ce) || !ce.Sent || !errors.Is(err, rpc.ErrConnectionLost) {
			t.Fatalf("pending call: %v", err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("pending calls failed %v after the disconnect", d)
	}
	_, err := c.Call(ctxT(t), []byte("after"))
	var ce *rpc.CallError
	if !errors.As(err, &ce) || ce.Sent || !errors.Is(err, ss.ErrNotConnected) {
		t.Fatalf("call after the disconnect: %v", err)
	}
}

func TestPendingLimit(t *testing.T) {
	reqs := make(chan rpc.Request, 2)
	srv := serve(t, func(r rpc.Request) { reqs <- r })
	c := dial(t, srv, rpc.Config{MaxPending: 2}, ss.ClientConfig{})
	errc := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := c.Call(context.Background(), []byte("held"))
			errc <- err
		}()
	}
	held := []rpc.Request{<-reqs, <-reqs}
	_, err := c.Call(ctxT(t), []byte("third"))
	var ce *rpc.CallError
	if !errors.As(err, &ce) || ce.Sent || !errors.Is(err, rpc.ErrTooManyPending) {
		t.Fatalf("third call: %v", err)
	}
	for _, r := range held {
		r.Reply(nil)
	}
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

// With automatic reconnection, a call made while reconnecting fails fast,
// or, with WaitForConnection, waits for the new connection.
func TestCallWhileReconnecting(t *testing.T) {
	for _, waitConn := range []bool{false, true} {
		t.Run(fmt.Sprint("WaitForConnection=", waitConn), func(t *testing.T) {
			srv := serve(t, echo)
			delay := 5 * time.Second // fail fast: the call comes long before the redial
			if waitConn {
				delay = 100 * time.Millisecond
			}
			c := dial(t, srv, rpc.Config{WaitForConnection: waitConn}, ss.ClientConfig{
				Reconnect: ss.ReconnectPolicy{Enabled: true, MinDelay: delay}})
			first := c.Core().Conn()
			eventually(t, "server side up", func() bool { return len(srv.Conns()) == 1 })
			srv.Conns()[0].Close()
			eventually(t, "connection ended", func() bool { return first.Context().Err() != nil })
			got, err := c.Call(ctxT(t), []byte("hi"))
			if !waitConn {
				var ce *rpc.CallError
				if !errors.As(err, &ce) || ce.Sent || !errors.Is(err, ss.ErrNotConnected) {
					t.Fatalf("call while reconnecting: %q, %v", got, err)
				}
				return
			}
			if err != nil || string(got) != "hi" || c.Core().Conn() == first {
				t.Fatalf("call across the reconnection: %q, %v", got, err)
			}
		})
	}
}

func TestPushAndRemoteError(t *testing.T) {
	srv := serve(t, func(r rpc.Request) {
		if r.ID == 0 { // a plain message: push it back twice
			rpc.Push(r.Conn, r.Data)
			rpc.Push(r.Conn, r.Data)
			return
		}
		r.Fail("no such key")
	})
	c := dial(t, srv, rpc.Config{}, ss.ClientConfig{})
	msgs := c.Messages()
	if err := c.Send([]byte("news")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case m := <-msgs:
			if string(m.Data) != "news" {
				t.Fatalf("push %q", m.Data)
			}
		case <-time.After(wait):
			t.Fatal("no push")
		}
	}
	_, err := c.Call(ctxT(t), []byte("get k"))
	var re *rpc.RemoteError
	if !errors.As(err, &re) || re.Message != "no such key" {
		t.Fatalf("failed call: %v", err)
	}
	if err := (rpc.Request{}).Reply(nil); !errors.Is(err, rpc.ErrNotRequest) {
		t.Fatalf("Reply to a plain message: %v", err)
	}
}

// A frame that is not an envelope is counted and dropped; calls go on.
func TestMalformedFrames(t *testing.T) {
	srv := serve(t, func(r rpc.Request) {
		r.Conn.Send([]byte{9, 9, 9}) // not an envelope
		r.Conn.Send(nil)             // empty
		r.Reply(r.Data)
	})
	c := dial(t, srv, rpc.Config{}, ss.ClientConfig{})
	if got, err := c.Call(ctxT(t), []byte("x")); err != nil || string(got) != "x" {
		t.Fatalf("call: %q %v", got, err)
	}
	if st := c.Stats(); st.Malformed != 2 {
		t.Fatalf("stats %+v", st)
	}
	for _, b := range [][]byte{nil, {1, 0}, {2, 0, 0, 0, 0, 0, 0, 0, 1}, {1, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, err := rpc.Decode(ss.Message{Data: b}); !errors.Is(err, rpc.ErrMalformed) {
			t.Errorf("Decode(%v): %v, want ErrMalformed", b, err)
		}
	}
}

// Close fails what is pending and ends everything (goleak checks).
func TestCloseFailsPending(t *testing.T) {
	reqs := make(chan rpc.Request, 1)
	srv := serve(t, func(r rpc.Request) { reqs <- r })
	c := dial(t, srv, rpc.Config{}, ss.ClientConfig{})
	errc := make(chan error, 1)
	go func() {
		_, err := c.Call(context.Background(), []byte("q"))
		errc <- err
	}()
	<-reqs
	c.Close()
	if err := <-errc; !errors.Is(err, rpc.ErrConnectionLost) {
		t.Fatalf("pending call at Close: %v", err)
	}
	if _, err := c.Call(ctxT(t), nil); err == nil {
		t.Fatal("call after Close succeeded")
	}
}
