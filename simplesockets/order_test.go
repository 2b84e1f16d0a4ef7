package simplesockets_test

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// Issue 12, item 1: a single select loop over the server's channels sees,
// for each connection, its Connect before any of its Messages and its
// Disconnect after its last Message. 2,000 connections each send a burst
// of lines and then close, half with a FIN and half with a reset, 64 at a
// time; the loop checks every event against the connection's state.
func TestOrderedEventsUnderChurn(t *testing.T) {
	const (
		conns    = 2000
		parallel = 64
		burst    = 5
	)
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.Lines(0), EventBuffer: 16, MessageBuffer: 64}})

	type state struct {
		msgs  int
		ended bool
	}
	loopErr := make(chan error, 1)
	done := make(chan map[*ss.Conn]*state, 1)
	go func() {
		seen := map[*ss.Conn]*state{}
		fail := func(format string, args ...any) {
			loopErr <- fmt.Errorf(format, args...)
			for range srv.Messages() { // keep the server unblocked until Close
			}
		}
		connects, messages, disconnects := srv.Connects(), srv.Messages(), srv.Disconnects()
		for ended := 0; ended < conns; {
			select {
			case c := <-connects:
				if seen[c] != nil {
					fail("second Connect of %v", c)
					return
				}
				seen[c] = &state{}
			case m := <-messages:
				st := seen[m.Conn]
				switch {
				case st == nil:
					fail("message of %v before its Connect", m.Conn)
					return
				case st.ended:
					fail("message of %v after its Disconnect", m.Conn)
					return
				}
				st.msgs++
			case d := <-disconnects:
				st := seen[d.Conn]
				switch {
				case st == nil:
					fail("Disconnect of %v before its Connect", d.Conn)
					return
				case st.ended:
					fail("second Disconnect of %v", d.Conn)
					return
				}
				st.ended = true
				ended++
			}
		}
		done <- seen
	}()

	var wg sync.WaitGroup
	sem := make(chan struct{}, parallel)
	fins := make(chan string, conns) // local addresses of the FIN connections
	for i := range conns {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			nc, err := net.DialTimeout("tcp", addr, wait)
			if err != nil {
				t.Error(err)
				return
			}
			var b []byte
			for j := range burst {
				b = fmt.Appendf(b, "conn %d line %d\n", i, j)
			}
			nc.Write(b)
			if i%2 == 0 {
				fins <- nc.LocalAddr().String()
				nc.Close()
				return
			}
			nc.(*net.TCPConn).SetLinger(0) // a reset: unread lines may be lost, never reordered
			nc.Close()
		}()
	}
	wg.Wait()
	close(fins)

	select {
	case err := <-loopErr:
		t.Fatal(err)
	case seen := <-done:
		if len(seen) != conns {
			t.Fatalf("%d connections seen, want %d", len(seen), conns)
		}
		byAddr := map[string]*state{}
		for c, st := range seen {
			byAddr[c.RemoteAddr().String()] = st
		}
		for a := range fins {
			if st := byAddr[a]; st == nil || st.msgs != burst {
				t.Fatalf("connection %s closed with a FIN delivered %v messages, want %d", a, st, burst)
			}
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the loop did not see every Disconnect within 60s")
	}
}

// Issue 12, item 2: every Disconnect reaches an application that reads
// Disconnects, however the server stops, even when there are more
// connections than the channel's buffer and the application takes its
// time over each.
func TestEveryDisconnectDeliveredAtStop(t *testing.T) {
	const conns = 300
	for _, stop := range []string{"Close", "cancel"} {
		t.Run(stop, func(t *testing.T) {
			srv, cancel, served := serveCtx(t, ss.ServerConfig{Options: ss.Options{EventBuffer: 64}})
			connects, disconnects := srv.Connects(), srv.Disconnects()
			for range conns {
				dialRaw(t, srv.Addr().String())
				recv(t, connects, "connect")
			}
			got := make(chan int, 1)
			go func() {
				n := 0
				for range disconnects {
					n++
					time.Sleep(200 * time.Microsecond) // the application's work per event
				}
				got <- n
			}()
			switch stop {
			case "Close":
				srv.Close()
			case "cancel":
				cancel()
			}
			if err := recv(t, served, "Serve"); !errors.Is(err, ss.ErrServerClosed) {
				t.Fatalf("Serve: %v", err)
			}
			if n := recv(t, got, "count"); n != conns {
				t.Fatalf("%d Disconnects delivered, want %d (dropped: %d)", n, conns, srv.Stats().EventsDropped)
			}
		})
	}
}
