package simplesockets_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

func len32(p []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(p)))
	return append(b, p...)
}

// Guarantee 1: exactly one Disconnect per Connect, whatever ends the
// connection, with a reason errors.Is can match.
func TestOneDisconnectPerConnect(t *testing.T) {
	tests := []struct {
		name string
		end  func(t *testing.T, srv *ss.Server, c *ss.Conn, nc net.Conn)
		want error
	}{
		{"peer close", func(t *testing.T, _ *ss.Server, _ *ss.Conn, nc net.Conn) { nc.Close() }, io.EOF},
		{"peer reset", func(t *testing.T, _ *ss.Server, _ *ss.Conn, nc net.Conn) {
			nc.(*net.TCPConn).SetLinger(0)
			nc.Close()
		}, ss.ErrConnReset},
		{"oversize frame", func(t *testing.T, _ *ss.Server, _ *ss.Conn, nc net.Conn) {
			nc.Write([]byte{0x7f, 0xff, 0xff, 0xff})
		}, ss.ErrMessageTooLarge},
		{"Conn.Close", func(t *testing.T, _ *ss.Server, c *ss.Conn, _ net.Conn) { c.Close() }, ss.ErrClosed},
		{"Shutdown", func(t *testing.T, srv *ss.Server, _ *ss.Conn, _ net.Conn) {
			go srv.Shutdown(context.Background())
		}, ss.ErrServerClosed},
		{"Close", func(t *testing.T, srv *ss.Server, _ *ss.Conn, _ net.Conn) { go srv.Close() }, ss.ErrServerClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.LengthPrefixed(1 << 20)}})
			conns, discs := srv.Connects(), srv.Disconnects()
			nc := dialRaw(t, addr)
			c := recv(t, conns, "connect")
			tt.end(t, srv, c, nc)
			d := recv(t, discs, "disconnect")
			if d.Conn != c {
				t.Fatalf("disconnect of %v, want %v", d.Conn, c)
			}
			if !errors.Is(d.Err, tt.want) {
				t.Fatalf("reason %v, want %v", d.Err, tt.want)
			}
			if cause := context.Cause(c.Context()); !errors.Is(cause, tt.want) {
				t.Fatalf("context cause %v, want %v", cause, tt.want)
			}
			select {
			case <-c.Context().Done():
			case <-time.After(wait):
				t.Fatal("Context not done after the Disconnect")
			}
			// No second Disconnect, even after the server is closed.
			srv.Close()
			for d := range discs {
				t.Fatalf("second disconnect: %v", d)
			}
			if err := c.Send([]byte("x")); !errors.Is(err, ss.ErrClosed) {
				t.Fatalf("Send after end: %v, want ErrClosed", err)
			}
			if st := srv.Stats(); st.Open != 0 || st.Accepted != 1 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// Guarantee 2: a connection's messages arrive in order, and all of them are
// on Messages before its Disconnect is sent.
func TestMessagesInOrderBeforeDisconnect(t *testing.T) {
	const n = 500
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.LengthPrefixed(0), MessageBuffer: n}})
	nc := dialRaw(t, addr)
	var all []byte
	for i := range n {
		all = append(all, len32([]byte(fmt.Sprintf("message %d", i)))...)
	}
	// Write in odd-sized pieces so frames straddle reads.
	for len(all) > 0 {
		k := min(len(all), 37)
		if _, err := nc.Write(all[:k]); err != nil {
			t.Fatal(err)
		}
		all = all[k:]
	}
	nc.Close()
	d := recv(t, srv.Disconnects(), "disconnect")
	if !errors.Is(d.Err, io.EOF) {
		t.Fatalf("reason %v", d.Err)
	}
	// The Disconnect has been sent, so every message must be queued already.
	if got := len(srv.Messages()); got != n {
		t.Fatalf("%d messages queued when the Disconnect arrived, want %d", got, n)
	}
	for i := range n {
		m := recv(t, srv.Messages(), "message")
		if want := fmt.Sprintf("message %d", i); string(m.Data) != want || m.Conn != d.Conn {
			t.Fatalf("got %q from %v, want %q", m.Data, m.Conn, want)
		}
	}
}

// Guarantee 3: all four channels are closed once Serve has returned, so a
// range over them ends.
func TestChannelsClosedAfterServe(t *testing.T) {
	for _, stop := range []string{"cancel", "Shutdown", "Close"} {
		t.Run(stop, func(t *testing.T) {
			srv, cancel, served := serveCtx(t, ss.ServerConfig{})
			nc := dialRaw(t, srv.Addr().String())
			nc.Write([]byte("hello"))
			var wg sync.WaitGroup
			counts := make([]int, 4)
			drain := func(i int, f func() bool) {
				defer wg.Done()
				for f() {
					counts[i]++
				}
			}
			wg.Add(4)
			go drain(0, func() bool { _, ok := <-srv.Connects(); return ok })
			go drain(1, func() bool { _, ok := <-srv.Disconnects(); return ok })
			go drain(2, func() bool { _, ok := <-srv.Messages(); return ok })
			go drain(3, func() bool { _, ok := <-srv.Errors(); return ok })
			recvUntil(t, func() bool { return srv.Stats().MessagesIn == 1 })
			var wantErr error
			switch stop {
			case "cancel":
				cancel()
				wantErr = context.Canceled
			case "Shutdown":
				if err := srv.Shutdown(context.Background()); err != nil {
					t.Fatal(err)
				}
				wantErr = ss.ErrServerClosed
			case "Close":
				srv.Close()
				wantErr = ss.ErrServerClosed
			}
			select {
			case err := <-served:
				if !errors.Is(err, wantErr) || !errors.Is(err, ss.ErrServerClosed) {
					t.Fatalf("Serve returned %v, want %v and ErrServerClosed", err, wantErr)
				}
			case <-time.After(wait):
				t.Fatal("Serve did not return")
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(wait):
				t.Fatal("channels not closed")
			}
			if counts[0] != 1 || counts[1] != 1 || counts[2] != 1 {
				t.Fatalf("connects, disconnects, messages = %v, want 1 each", counts[:3])
			}
		})
	}
}

// recvUntil waits for cond with a deadline, polling; for counters that have
// no channel to wait on.
func recvUntil(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within deadline")
		}
		time.Sleep(time.Millisecond)
	}
}

// Guarantee 4: when the application does not read Messages, the server stops
// reading the socket (the peer's writes block) and memory stays bounded;
// nothing is dropped when it reads again.
func TestBackpressure(t *testing.T) {
	const msgBuf = 64
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.LengthPrefixed(0), MessageBuffer: msgBuf}})
	nc := dialRaw(t, addr)
	frame := len32(bytes.Repeat([]byte("x"), 1000))
	sent := 0
	// Write until the kernel buffers are full and a write blocks.
	for {
		nc.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := nc.Write(frame)
		if err != nil {
			if !errors.Is(err, errOSDeadline) {
				t.Fatal(err)
			}
			if n > 0 {
				// finish the partial frame later
				frame = frame[n:]
			}
			break
		}
		sent++
		if sent > 200000 {
			t.Fatal("200 MB written without backpressure")
		}
	}
	in := srv.Stats().BytesIn
	if in > 16<<20 {
		t.Fatalf("server read %d bytes while the application read nothing", in)
	}
	// Read everything now: all complete frames arrive, in order.
	nc.SetWriteDeadline(time.Time{})
	go func() {
		nc.Write(frame) // the rest of the partial frame
	}()
	total := sent + 1
	for i := range total {
		m := recv(t, srv.Messages(), "message")
		if len(m.Data) != 1000 {
			t.Fatalf("message %d: %d bytes", i, len(m.Data))
		}
	}
	t.Logf("%d frames written before the peer blocked; server had read %d bytes", sent, in)
}

// Guarantee 5 (and 7): an application that reads only Messages keeps
// working with thousands of connections coming and going.
func TestOnlyMessagesReader(t *testing.T) {
	const conns = 3000
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.Lines(0), EventBuffer: 8}})
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	errs := make(chan error, conns)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			nc, err := net.DialTimeout("tcp", addr, wait)
			if err != nil {
				errs <- err
				return
			}
			fmt.Fprintf(nc, "client %d\n", i)
			nc.Close()
		}()
	}
	seen := make(map[string]bool)
	for len(seen) < conns {
		select {
		case m := <-srv.Messages():
			seen[string(m.Data)] = true
		case err := <-errs:
			t.Fatal(err)
		case <-time.After(wait):
			t.Fatalf("stalled after %d of %d messages", len(seen), conns)
		}
	}
	wg.Wait()
	// 3000 connects + 3000 disconnects into 8-slot buffers nobody reads
	// are dropped (a connection's drop is counted after Open goes down).
	recvUntil(t, func() bool { st := srv.Stats(); return st.Open == 0 && st.EventsDropped >= 2*conns-3*8 })
	st := srv.Stats()
	if st.Accepted != conns || st.MessagesIn != conns {
		t.Fatalf("stats %+v", st)
	}
}

// Guarantee 6: cancelling the context stops everything within a bounded
// time (ShutdownTimeout, then a hard close), even with connections blocked
// delivering to a full Messages channel.
func TestCancelStopsEverything(t *testing.T) {
	srv, cancel, served := serveCtx(t, ss.ServerConfig{ShutdownTimeout: 300 * time.Millisecond, Options: ss.Options{MessageBuffer: 1}})
	for range 20 {
		nc := dialRaw(t, srv.Addr().String())
		go func() {
			buf := bytes.Repeat([]byte("y"), 4096)
			for {
				if _, err := nc.Write(buf); err != nil {
					return
				}
			}
		}()
	}
	recvUntil(t, func() bool { return srv.Stats().Accepted == 20 })
	start := time.Now()
	cancel()
	select {
	case err := <-served:
		if !errors.Is(err, context.Canceled) || !errors.Is(err, ss.ErrServerClosed) {
			t.Fatalf("Serve: %v, want ErrServerClosed and context.Canceled", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Serve did not return within 3s of cancel (ShutdownTimeout 300ms)")
	}
	t.Logf("stopped in %v; discarded %d messages", time.Since(start), srv.Stats().MessagesDiscarded)
	for range srv.Messages() {
	}
}

// A reply is written even if the application then stops taking messages
// while others are still waiting in Messages: no Send waits for a later one
// to be written. Several connections and pipelined requests, so that replies
// may be queued while readers are between reads (the flusher's "window");
// this catches a reply stranded for good, not a late one.
func TestReplyWrittenWhileMessagesPending(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.Lines(0)}})
	const conns = 4
	peers := make([]net.Conn, conns)
	for i := range peers {
		peers[i] = dialRaw(t, addr)
		recv(t, srv.Connects(), "connect")
	}
	for _, p := range peers {
		if _, err := p.Write([]byte("first\nsecond\nthird\n")); err != nil {
			t.Fatal(err)
		}
	}
	// Answer exactly one message per connection, then stop reading
	// Messages with the others still in it.
	answered := map[*ss.Conn]bool{}
	for len(answered) < conns {
		m := recv(t, srv.Messages(), "message")
		if answered[m.Conn] {
			continue
		}
		answered[m.Conn] = true
		if err := m.Conn.Send([]byte(string(m.Data))); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range peers {
		p.SetReadDeadline(time.Now().Add(wait))
		line, err := bufio.NewReader(p).ReadString('\n')
		if err != nil || line != "first\n" {
			t.Fatalf("peer %d: %q, %v", i, line, err)
		}
	}
}
