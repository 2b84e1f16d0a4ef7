package simplesockets_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// One Server serves a TCP and a Unix listener: one Connects channel, one
// Messages channel, one Conns snapshot, one Stats, and one Shutdown that
// stops both.
func TestServeSeveralListeners(t *testing.T) {
	tcpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tcpLn.Close() }) // in case Serve never took it
	sock := filepath.Join(t.TempDir(), "s.sock")
	unixLn, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unixLn.Close() })

	framing := ss.Options{Framing: ss.Lines(0)}
	srv, err := ss.NewServer(ss.ServerConfig{Options: framing})
	if err != nil {
		t.Fatal(err)
	}
	connects := srv.Connects() // subscribed before the first connection
	msgs := srv.Messages()

	var serveErr error
	served := make(chan struct{}) // closed when Serve has returned serveErr
	go func() {
		defer close(served)
		serveErr = srv.Serve(context.Background(), tcpLn, unixLn)
	}()
	echoed := make(chan struct{})
	go func() {
		defer close(echoed)
		for m := range msgs { // ends when Serve closes the channel
			m.Conn.Send(m.Data)
		}
	}()
	// Whatever happens below, leave no goroutine behind (Close after
	// Shutdown does nothing more).
	t.Cleanup(func() {
		srv.Close()
		waitClosed(t, served, "Serve to return after Close")
		waitClosed(t, echoed, "the echo loop to end after Close")
	})

	// One client on each listener; each gets its own echo, and each
	// connection arrives on the one Connects channel.
	dial := func(network, addr, payload string) *ss.Conn {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		cli, err := ss.Dial(ctx, ss.ClientConfig{Network: network, Addr: addr, Options: framing})
		if err != nil {
			t.Fatalf("dial %s: %v", network, err)
		}
		t.Cleanup(func() { cli.Close() })
		c := recv(t, connects, network+" connect")
		if err := cli.Send([]byte(payload)); err != nil {
			t.Fatalf("%s send: %v", network, err)
		}
		if m := recv(t, cli.Messages(), network+" echo"); string(m.Data) != payload {
			t.Fatalf("%s echo: got %q, want %q", network, m.Data, payload)
		}
		return c
	}
	tcpConn := dial("tcp", tcpLn.Addr().String(), "over tcp")
	unixConn := dial("unix", sock, "over unix")

	if a, ok := tcpConn.LocalAddr().(*net.TCPAddr); !ok || a.String() != tcpLn.Addr().String() {
		t.Errorf("first connection's LocalAddr = %v, want the TCP listener's %v", tcpConn.LocalAddr(), tcpLn.Addr())
	}
	if a, ok := unixConn.LocalAddr().(*net.UnixAddr); !ok || a.Name != sock {
		t.Errorf("second connection's LocalAddr = %v, want the Unix socket %s", unixConn.LocalAddr(), sock)
	}
	if tcpConn.ID() >= unixConn.ID() {
		t.Errorf("IDs: tcp %d, unix %d; the connection accepted first should have the smaller ID", tcpConn.ID(), unixConn.ID())
	}
	if got := srv.Conns(); len(got) != 2 || got[0] != tcpConn || got[1] != unixConn {
		t.Errorf("Conns() = %v, want [%v %v] (both listeners, ordered by ID)", got, tcpConn, unixConn)
	}
	if st := srv.Stats(); st.Accepted != 2 || st.Open != 2 {
		t.Errorf("Stats: Accepted %d, Open %d; want 2 and 2", st.Accepted, st.Open)
	}

	// One Shutdown stops both listeners.
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if !waitClosed(t, served, "Serve to return after Shutdown") {
		t.FailNow()
	}
	if !errors.Is(serveErr, ss.ErrServerClosed) {
		t.Errorf("Serve returned %v, want ErrServerClosed", serveErr)
	}
	if !waitClosed(t, echoed, "Messages to be closed after Serve returned") {
		t.FailNow()
	}
	if _, ok := <-connects; ok {
		t.Error("Connects not closed after Serve returned")
	}
	if got := srv.Conns(); len(got) != 0 {
		t.Errorf("Conns() after Shutdown = %v, want none", got)
	}
	if nc, err := net.DialTimeout("tcp", tcpLn.Addr().String(), wait); err == nil {
		nc.Close()
		t.Error("the TCP listener still accepts after Shutdown")
	}
	if nc, err := net.DialTimeout("unix", sock, wait); err == nil {
		nc.Close()
		t.Error("the Unix listener still accepts after Shutdown")
	}
}

// Serve's arguments: no listener needs Listen first, a nil listener is an
// error, and listeners of its own after Listen are ErrAlreadyStarted. None
// of these may look like a normal stop (ErrServerClosed).
func TestServeSeveralListenersArgErrors(t *testing.T) {
	newLn := func(t *testing.T) net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln
	}
	for _, tc := range []struct {
		name   string
		listen bool // call Listen before Serve
		lns    func(t *testing.T) []net.Listener
		want   error // nil: any error but ErrServerClosed
	}{
		{name: "no listener before Listen", lns: func(*testing.T) []net.Listener { return nil }},
		{name: "nil listener", lns: func(*testing.T) []net.Listener { return []net.Listener{nil} }},
		{name: "nil among listeners", lns: func(t *testing.T) []net.Listener { return []net.Listener{newLn(t), nil} }},
		{name: "nil listener after Listen", listen: true, lns: func(*testing.T) []net.Listener { return []net.Listener{nil} }},
		{name: "own listener after Listen", listen: true, lns: func(t *testing.T) []net.Listener { return []net.Listener{newLn(t)} }, want: ss.ErrAlreadyStarted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := ss.NewServer(ss.ServerConfig{Addr: "127.0.0.1:0"})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			if tc.listen {
				if err := srv.Listen(); err != nil {
					t.Fatal(err)
				}
			}
			lns := tc.lns(t)
			// If Serve wrongly started serving, it would block: cancel
			// it after the deadline so that it returns.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			res := make(chan error, 1)
			go func() { res <- srv.Serve(ctx, lns...) }()
			var err2 error
			select {
			case err2 = <-res:
			case <-time.After(wait):
				cancel()
				<-res
				t.Fatalf("Serve(ctx, %v) served instead of returning an error", lns)
			}
			switch {
			case err2 == nil:
				t.Fatalf("Serve(ctx, %v) = nil, want an error", lns)
			case errors.Is(err2, ss.ErrServerClosed):
				t.Fatalf("Serve(ctx, %v) = %v, which matches ErrServerClosed (a normal stop)", lns, err2)
			case tc.want != nil && !errors.Is(err2, tc.want):
				t.Fatalf("Serve(ctx, %v) = %v, want %v", lns, err2, tc.want)
			}
		})
	}
}

// waitClosed waits for ch to be closed, up to the deadline; it reports
// false (and an error) if it was not.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) bool {
	t.Helper()
	select {
	case <-ch:
		return true
	case <-time.After(wait):
		t.Errorf("waited %v for %s", wait, what)
		return false
	}
}
