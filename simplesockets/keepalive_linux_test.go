package simplesockets

import (
	"syscall"
	"testing"
	"time"
)

// sockopts reads SO_KEEPALIVE and TCP_KEEPIDLE (seconds) of c's socket.
func sockopts(t *testing.T, c *Conn) (on, idle int) {
	t.Helper()
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		t.Fatalf("%T has no socket", c.nc)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var gerr error
	err = raw.Control(func(fd uintptr) {
		on, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
		if gerr == nil {
			idle, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE)
		}
	})
	if err == nil {
		err = gerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return on, idle
}

// Options.KeepAlive reaches the sockets of both ends: the period as the
// idle time before the first probe, Go's 15 s when zero, off when negative.
func TestKeepAliveSocketOptions(t *testing.T) {
	tests := []struct {
		name     string
		period   time.Duration
		wantOn   bool
		wantIdle int // seconds, checked only when on
	}{
		{"default", 0, true, 15},
		{"7s", 7 * time.Second, true, 7},
		{"disabled", -1, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{KeepAlive: tt.period}
			srv := serveInternal(t, ServerConfig{Options: opts})
			cl, err := Dial(t.Context(), ClientConfig{Addr: srv.Addr().String(), Options: opts})
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			var sc *Conn
			select {
			case sc = <-srv.Connects():
			case <-time.After(10 * time.Second):
				t.Fatal("no connection")
			}
			for _, end := range []struct {
				name string
				c    *Conn
			}{{"server", sc}, {"client", cl.Conn()}} {
				if end.c == nil {
					t.Fatalf("%s: no connection", end.name)
				}
				on, idle := sockopts(t, end.c)
				if (on != 0) != tt.wantOn {
					t.Errorf("%s: SO_KEEPALIVE %d, want on=%v", end.name, on, tt.wantOn)
				}
				if tt.wantOn && idle != tt.wantIdle {
					t.Errorf("%s: TCP_KEEPIDLE %d s, want %d", end.name, idle, tt.wantIdle)
				}
			}
		})
	}
}
