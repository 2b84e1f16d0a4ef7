// Package sstest helps test code that uses simplesockets, the way
// net/http/httptest helps test HTTP handlers: it starts a real Server on a
// loopback port, dials Clients to it, waits for events with a deadline, and
// tears everything down when the test ends.
//
//	func TestEcho(t *testing.T) {
//		srv := sstest.NewServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.Lines(0)}})
//		cli, conn := srv.Connect(t, ss.ClientConfig{})
//		cli.Send([]byte("ping"))
//		m := sstest.WaitMessage(t, srv)  // the server's side got "ping"
//		conn.Send(m.Data)
//		got := sstest.WaitMessage(t, cli) // and the client got it back
//		...
//	}
//
// Everything sstest starts is stopped by a cleanup registered on the
// testing.TB, so a test that uses it passes goleak's checks.
//
// # Ownership and concurrency
//
// The Server and the Clients belong to the test that created them; their
// cleanups run when that test (or subtest) ends. The helpers that take a
// testing.TB may fail the test with tb.Fatalf, so, like t.Fatal, they must be
// called from the goroutine running the test. The wait helpers receive from
// the event channels: an event one of them receives is not seen by any
// other reader of that channel.
//
// # Testing the application's own loop
//
// When the code under test reads the server's channels itself, the wait
// helpers would compete with it for events. Put a Tap between them instead:
// NewTap takes over the server's channels, the application's loop reads the
// Tap's (in the same order), and the test asserts with the Tap's
// WaitConnect, WaitMessage, WaitDisconnect, WaitError and Seen, which read
// its record and take nothing from the application. To play the client's
// side of a line protocol without a simplesockets Client, DialLines gives a
// LineConn with Say, Expect and ExpectPrefix.
//
// # Lifecycle events
//
// Calling a Server's or Client's Connects, Disconnects or Errors method (as
// WaitConnect, WaitDisconnect and WaitError do, and NewTap for all four)
// subscribes to that channel:
// from then on its events are delivered with backpressure instead of being
// dropped when its buffer is full. See the simplesockets package
// documentation, "Lifecycle events".
package sstest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// DefaultTimeout is how long the helpers wait for an event, a dial or the
// end of Serve before failing the test. It is long, because it only matters
// when something is broken, and machines running tests under -race can be
// slow.
const DefaultTimeout = 10 * time.Second

// Server is a simplesockets Server serving on a loopback port for a test.
// The embedded *ss.Server gives its channels and methods (Messages,
// Connects, Conns, Shutdown...); Close is Server's own.
//
// Its methods are safe for concurrent use, except that those taking a
// testing.TB must be called from the test's goroutine.
type Server struct {
	*ss.Server

	// Addr is the address the server listens on, "127.0.0.1:port".
	Addr string

	cfg    ss.ServerConfig
	served chan struct{} // closed when Serve has returned
	err    error         // what Serve returned; read after served is closed
}

// NewServer starts a Server for cfg on 127.0.0.1 at a free port; cfg's
// Network and Addr are ignored. It fails the test if the server cannot be
// created or cannot listen.
//
// NewServer registers a cleanup on tb that calls Close and reports (with
// tb.Errorf) an error of Serve other than ss.ErrServerClosed, and Serve not
// returning within DefaultTimeout.
func NewServer(tb testing.TB, cfg ss.ServerConfig) *Server {
	tb.Helper()
	cfg.Network = "tcp"
	cfg.Addr = "127.0.0.1:0"
	srv, err := ss.NewServer(cfg)
	if err != nil {
		tb.Fatalf("sstest: NewServer: %v", err)
	}
	if err := srv.Listen(); err != nil {
		tb.Fatalf("sstest: NewServer: %v", err)
	}
	s := &Server{Server: srv, Addr: srv.Addr().String(), cfg: cfg, served: make(chan struct{})}
	go func() {
		defer close(s.served)
		s.err = srv.Serve(context.Background())
	}()
	tb.Cleanup(func() {
		tb.Helper()
		s.Server.Close()
		select {
		case <-s.served:
		case <-time.After(DefaultTimeout):
			tb.Errorf("sstest: Serve did not return within %v of Close", DefaultTimeout)
			return
		}
		if s.err != nil && !errors.Is(s.err, ss.ErrServerClosed) {
			tb.Errorf("sstest: Serve: %v", s.err)
		}
	})
	return s
}

// Close closes the server at once (ss.Server.Close: connections are not
// flushed) and waits until Serve has returned; the four channels are closed
// by then. It is idempotent, and the cleanup calls it anyway: call it to
// stop the server before the test ends, or from a cleanup of your own that
// waits for a goroutine reading the server's channels (cleanups run
// last-registered first, so such a cleanup runs before NewServer's). Use
// the embedded Shutdown for a graceful stop.
func (s *Server) Close() {
	s.Server.Close()
	<-s.served
}

// Dial connects a new Client to the server and registers a cleanup on tb
// that closes it. The Client's Network and Addr are the server's, whatever
// cfg says; if cfg.Framing is nil, the server's Framing is used, so a
// Client dialled with a zero ClientConfig speaks the server's framing. It
// fails the test if the dial does not succeed within DefaultTimeout.
//
// The Client belongs to the test; it may also be closed earlier, Close
// being idempotent.
func (s *Server) Dial(tb testing.TB, cfg ss.ClientConfig) *ss.Client {
	tb.Helper()
	cfg.Network = "tcp"
	cfg.Addr = s.Addr
	if cfg.Framing == nil {
		cfg.Framing = s.cfg.Framing
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	cli, err := ss.Dial(ctx, cfg)
	if err != nil {
		tb.Fatalf("sstest: Dial: %v", err)
	}
	tb.Cleanup(func() { cli.Close() })
	return cli
}

// Connect dials a Client as Dial does, then receives the server side of
// its connection from the server's Connects channel and returns both. It
// fails the test if the next connection on Connects is another one, so use
// it only while no other connection is being made and nothing else reads
// the server's Connects. The Client's own Connects channel still holds the
// client side of the connection.
func (s *Server) Connect(tb testing.TB, cfg ss.ClientConfig) (*ss.Client, *ss.Conn) {
	tb.Helper()
	cli := s.Dial(tb, cfg)
	conn := WaitConnect(tb, s)
	local := cli.Conn().LocalAddr().String()
	if got := conn.RemoteAddr().String(); got != local {
		tb.Fatalf("sstest: Connect: the server's next connection is from %s, not from the new client %s", got, local)
	}
	return cli, conn
}

// NewPair starts a Server for serverCfg (as NewServer) and connects a Client
// for clientCfg to it (as Server.Connect). It returns the server, the
// client and the server's side of the connection; the test's cleanup closes
// them all.
func NewPair(tb testing.TB, serverCfg ss.ServerConfig, clientCfg ss.ClientConfig) (*Server, *ss.Client, *ss.Conn) {
	tb.Helper()
	s := NewServer(tb, serverCfg)
	cli, conn := s.Connect(tb, clientCfg)
	return s, cli, conn
}

// Next receives one value from ch and returns it. It fails the test with
// tb.Fatalf if nothing arrives within timeout, or if ch is closed. A zero or
// negative timeout means DefaultTimeout.
func Next[T any](tb testing.TB, ch <-chan T, timeout time.Duration) T {
	tb.Helper()
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case v, ok := <-ch:
		if !ok {
			tb.Fatalf("sstest: %v closed while waiting for a value", typeOf(ch))
		}
		return v
	case <-t.C:
		tb.Fatalf("sstest: no value on %v within %v", typeOf(ch), timeout)
	}
	var zero T
	return zero
}

func typeOf[T any](ch <-chan T) string {
	return "chan " + reflect.TypeFor[T]().String()
}

// WaitMessage waits up to DefaultTimeout for the next Message of src (a
// *ss.Server, *ss.Client or *Server) and returns it. It fails the test on
// timeout or if the channel is closed.
func WaitMessage(tb testing.TB, src interface{ Messages() <-chan ss.Message }) ss.Message {
	tb.Helper()
	return wait(tb, src.Messages(), "message", "Messages")
}

// WaitConnect waits up to DefaultTimeout for the next connection on src's
// Connects channel and returns it. It fails the test on timeout or if the
// channel is closed.
func WaitConnect(tb testing.TB, src interface{ Connects() <-chan *ss.Conn }) *ss.Conn {
	tb.Helper()
	return wait(tb, src.Connects(), "connection", "Connects")
}

// WaitDisconnect waits up to DefaultTimeout for the next Disconnect on
// src's Disconnects channel and returns it. It fails the test on timeout or
// if the channel is closed.
func WaitDisconnect(tb testing.TB, src interface{ Disconnects() <-chan ss.Disconnect }) ss.Disconnect {
	tb.Helper()
	return wait(tb, src.Disconnects(), "disconnect", "Disconnects")
}

// WaitError waits up to DefaultTimeout for the next error on src's Errors
// channel and returns it. It fails the test on timeout or if the channel is
// closed.
func WaitError(tb testing.TB, src interface{ Errors() <-chan error }) error {
	tb.Helper()
	return wait(tb, src.Errors(), "error", "Errors")
}

// wait is Next with names for the failure message.
func wait[T any](tb testing.TB, ch <-chan T, event, chanName string) T {
	tb.Helper()
	t := time.NewTimer(DefaultTimeout)
	defer t.Stop()
	select {
	case v, ok := <-ch:
		if !ok {
			tb.Fatalf("sstest: %s closed while waiting for a %s", chanName, event)
		}
		return v
	case <-t.C:
		tb.Fatalf("sstest: no %s on %s within %v", event, chanName, DefaultTimeout)
	}
	var zero T
	return zero
}
