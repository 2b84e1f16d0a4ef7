package simplesockets_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// A Conn carries the application's own value, safely across goroutines.
// (Programs used to keep a map[*Conn]state beside their loop.)
func TestConnValue(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{})
	connects := srv.Connects()
	dialRaw(t, addr)
	c := recv(t, connects, "connect")
	if v := c.Value(); v != nil {
		t.Fatalf("Value before SetValue: %v", v)
	}
	type session struct{ user string }
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetValue(&session{user: strings.Repeat("u", i+1)})
			if _, ok := c.Value().(*session); !ok {
				t.Errorf("Value: %T", c.Value())
			}
		}()
	}
	wg.Wait()
	c.SetValue(nil)
	if v := c.Value(); v != nil {
		t.Fatalf("Value after SetValue(nil): %v", v)
	}
}

// Client.Send after the connection ended says ErrNotConnected, as
// documented, and still matches ErrClosed. (It used to be ErrClosed only:
// code that buffers while reconnecting took the wrong branch.)
func TestClientSendAfterEndIsNotConnected(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{})
	connects := srv.Connects()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	cli, err := ss.Dial(ctx, ss.ClientConfig{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	disc := cli.Disconnects()
	recv(t, connects, "connect").Close()
	recv(t, disc, "client disconnect")
	err = cli.Send([]byte("late"))
	if !errors.Is(err, ss.ErrNotConnected) || !errors.Is(err, ss.ErrClosed) {
		t.Fatalf("Send after the end: %v, want ErrNotConnected and ErrClosed", err)
	}
}

// Stats has JSON field names, for a /debug endpoint.
func TestStatsJSON(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{})
	nc := dialRaw(t, addr)
	nc.Write([]byte("x"))
	recv(t, srv.Messages(), "message")
	b, err := json.Marshal(srv.Stats())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"open":1`, `"bytes_in":1`, `"slow_consumers":0`, `"pending_bytes":`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("Stats JSON %s lacks %s", b, k)
		}
	}
}

// An error string names the package once, and a connection's failure is
// reported once: as its Disconnect's reason, not also on Errors. (It used
// to read "simplesockets: conn 2 ...: simplesockets: connection reset by
// peer: ...", on both channels.) Errors carries what has no Disconnect,
// such as a connection refused at the per-IP cap.
func TestErrorsSayPackageOnce(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{MaxConnectionsPerIP: 1, Options: ss.Options{Framing: ss.LengthPrefixed(16)}})
	errs, discs := srv.Errors(), srv.Disconnects()
	nc := dialRaw(t, addr)
	recv(t, srv.Connects(), "connect")
	dialRaw(t, addr) // over the cap
	err := recv(t, errs, "refusal")
	var ce *ss.ConnError
	if !errors.As(err, &ce) || !errors.Is(err, ss.ErrRefused) {
		t.Fatalf("%v: want a *ConnError matching ErrRefused", err)
	}
	nc.Write([]byte{0, 0, 1, 0}) // a 256-byte frame over the 16-byte limit
	d := recv(t, discs, "disconnect")
	for _, err := range []error{err, d.Err} {
		if n := strings.Count(err.Error(), "simplesockets:"); n != 1 {
			t.Fatalf("%q names the package %d times", err, n)
		}
	}
	if !errors.Is(d.Err, ss.ErrMessageTooLarge) {
		t.Fatalf("reason %v, want ErrMessageTooLarge", d.Err)
	}
	if len(errs) != 0 {
		t.Fatalf("the failure was reported on Errors too: %v", <-errs)
	}
}

// A length prefix that reads as text gets a hint: the usual cause is a
// peer speaking Lines or Raw to a LengthPrefixed server. (The package doc's
// server and client used to disagree so, and the error said only "length
// prefix 1751477356 exceeds limit".)
func TestTextLengthPrefixHint(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.LengthPrefixed(0)}})
	discs := srv.Disconnects()
	nc := dialRaw(t, addr)
	nc.Write([]byte("hello\n"))
	d := recv(t, discs, "disconnect")
	if !errors.Is(d.Err, ss.ErrMessageTooLarge) || !strings.Contains(d.Err.Error(), "Lines or Raw") {
		t.Fatalf("reason %q: want ErrMessageTooLarge with a hint", d.Err)
	}
	nc2 := dialRaw(t, addr)
	nc2.Write([]byte{0xff, 0, 0, 0}) // binary, over the limit: no hint
	if d := recv(t, discs, "disconnect"); strings.Contains(d.Err.Error(), "Lines or Raw") {
		t.Fatalf("reason %q: a hint for a binary prefix", d.Err)
	}
}

// Methods on zero values return a clear error (or a harmless zero result)
// instead of panicking with a nil dereference.
func TestZeroValuesDoNotPanic(t *testing.T) {
	ctx := context.Background()
	var srv ss.Server
	var cli ss.Client
	var conn ss.Conn
	for name, err := range map[string]error{
		"Server.Listen":         srv.Listen(),
		"Server.ListenAndServe": srv.ListenAndServe(ctx),
		"Server.Serve":          srv.Serve(ctx),
		"Server.Shutdown":       srv.Shutdown(ctx),
		"Server.Close":          srv.Close(),
		"Client.Connect":        cli.Connect(ctx),
		"Client.Reconnect":      cli.Reconnect(ctx),
		"Client.Send":           cli.Send([]byte("x")),
		"Client.Shutdown":       cli.Shutdown(ctx),
		"Client.Close":          cli.Close(),
		"Conn.Send":             conn.Send([]byte("x")),
		"Conn.Close":            conn.Close(),
		"Conn.Context":          context.Cause(conn.Context()),
	} {
		if !errors.Is(err, ss.ErrInvalidConfig) || !strings.Contains(err.Error(), "zero value") {
			t.Errorf("%s: %v, want an error about a zero value (ErrInvalidConfig)", name, err)
		}
	}
	for _, ch := range []func() bool{
		func() bool { _, ok := <-srv.Connects(); return ok },
		func() bool { _, ok := <-srv.Messages(); return ok },
		func() bool { _, ok := <-cli.Disconnects(); return ok },
		func() bool { _, ok := <-cli.Errors(); return ok },
	} {
		if ch() {
			t.Error("a zero value's channel delivered something")
		}
	}
	if srv.Addr() != nil || len(srv.Conns()) != 0 || srv.Stats() != (ss.Stats{}) || cli.Conn() != nil || conn.ID() != 0 || conn.RemoteAddr() != nil || conn.Value() != nil {
		t.Error("a zero value reported something")
	}
	conn.SetValue(1)
	_ = conn.String()
	if _, ok := conn.TLSConnectionState(); ok {
		t.Error("a zero Conn is TLS")
	}
}
