//go:build linux

package simplesockets_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"runtime"
	"testing"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// waitGoroutines waits until at most max goroutines run, failing after the
// deadline.
func waitGoroutines(t *testing.T, max int, what string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for runtime.NumGoroutine() > max {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d goroutines, want at most %d", what, runtime.NumGoroutine(), max)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, with a deadline
	}
}

// Connections that have sent nothing have no goroutine (they wait in the
// server's idle poller), and every way such a connection can end gives its
// Disconnect with the right reason; data, a push from the server and a
// reply all work from the parked state.
func TestParkedConnections(t *testing.T) {
	const conns = 40
	tests := []struct {
		name    string
		end     func(t *testing.T, srv *ss.Server, c *ss.Conn, peer net.Conn)
		wantErr error
	}{
		{"peer sends a line", func(t *testing.T, srv *ss.Server, c *ss.Conn, peer net.Conn) {
			if _, err := peer.Write([]byte("hello\n")); err != nil {
				t.Fatal(err)
			}
			m := recv(t, srv.Messages(), "message")
			if m.Conn != c || string(m.Data) != "hello" {
				t.Fatalf("message %q from %v", m.Data, m.Conn)
			}
			peer.Close()
		}, ss.ErrPeerClosed},
		{"server pushes, peer answers", func(t *testing.T, srv *ss.Server, c *ss.Conn, peer net.Conn) {
			if err := c.Send([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(peer).ReadString('\n')
			if err != nil || line != "ping\n" {
				t.Fatalf("push: %q, %v", line, err)
			}
			peer.Write([]byte("pong\n"))
			if m := recv(t, srv.Messages(), "message"); string(m.Data) != "pong" {
				t.Fatalf("answer %q", m.Data)
			}
			c.Close()
		}, ss.ErrKicked},
		{"peer closes", func(t *testing.T, srv *ss.Server, c *ss.Conn, peer net.Conn) { peer.Close() }, ss.ErrPeerClosed},
		{"peer resets", func(t *testing.T, srv *ss.Server, c *ss.Conn, peer net.Conn) {
			peer.(*net.TCPConn).SetLinger(0)
			peer.Close()
		}, ss.ErrConnReset},
		{"Conn.Close", func(t *testing.T, srv *ss.Server, c *ss.Conn, peer net.Conn) { c.Close() }, ss.ErrKicked},
		{"Disconnect by address", func(t *testing.T, srv *ss.Server, c *ss.Conn, peer net.Conn) {
			if err := srv.Disconnect(c.RemoteAddr().String()); err != nil {
				t.Fatal(err)
			}
		}, ss.ErrKicked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := runtime.NumGoroutine()
			srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.Lines(0)}})
			peers := make(map[*ss.Conn]net.Conn)
			for range conns {
				p := dialRaw(t, addr)
				c := recv(t, srv.Connects(), "connect")
				peers[c] = p
			}
			// The server's own goroutines and a few of the runtime's; not
			// one per connection.
			waitGoroutines(t, base+10, "parked connections")
			for c, p := range peers {
				p.SetDeadline(time.Now().Add(wait))
				tt.end(t, srv, c, p)
				d := recv(t, srv.Disconnects(), "disconnect")
				if d.Conn != c || !errors.Is(d.Err, tt.wantErr) {
					t.Fatalf("disconnect of %v: %v, want %v", d.Conn, d.Err, tt.wantErr)
				}
			}
		})
	}
}

// Closing or shutting down a server with parked connections ends each with
// one Disconnect and returns; also while every connection is being closed
// by the application at the same time (a resume then races the server's
// teardown: it must still come before Serve returns).
func TestParkedConnectionsAtShutdown(t *testing.T) {
	for _, tt := range []struct {
		graceful, racingClose bool
	}{{false, false}, {true, false}, {false, true}, {true, true}} {
		graceful := tt.graceful
		base := runtime.NumGoroutine()
		srv, err := ss.NewServer(ss.ServerConfig{Addr: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Listen(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- srv.Serve(context.Background(), nil) }()
		const conns = 30
		var cs []*ss.Conn
		for range conns {
			dialRaw(t, srv.Addr().String())
			cs = append(cs, recv(t, srv.Connects(), "connect"))
		}
		waitGoroutines(t, base+10, "parked connections")
		if tt.racingClose {
			for _, c := range cs {
				go c.Close()
			}
		}
		if graceful {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			if err := srv.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			cancel()
		} else {
			srv.Close()
		}
		seen := map[*ss.Conn]bool{}
		for range conns {
			d := recv(t, srv.Disconnects(), "disconnect")
			if seen[d.Conn] {
				t.Fatalf("%+v: a second Disconnect for %v", tt, d.Conn)
			}
			seen[d.Conn] = true
			if !errors.Is(d.Err, ss.ErrServerClosed) && !(tt.racingClose && errors.Is(d.Err, ss.ErrKicked)) {
				t.Fatalf("%+v: disconnect %v", tt, d.Err)
			}
		}
		select {
		case err := <-done:
			if !errors.Is(err, ss.ErrServerClosed) {
				t.Fatalf("Serve: %v", err)
			}
		case <-time.After(wait):
			t.Fatal("Serve did not return")
		}
	}
}
