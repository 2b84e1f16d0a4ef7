//go:build unix

package simplesockets_test

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// A server connection that has gone quiet after traffic holds no read
// buffer: its reader waits without one (it takes one from the pool when
// data arrives). Measured as live heap per connection (both ends, this
// process has the peers too) after one echo each: 6.4 KiB when the reader
// kept its 4 KiB buffer, 2.6-2.8 KiB without it.
func TestQuietConnectionHoldsNoReadBuffer(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.LengthPrefixed(0)}})
	go func() {
		for m := range srv.Messages() {
			m.Conn.Send(m.Data)
		}
	}()
	const conns = 200
	frame := binary.BigEndian.AppendUint32(nil, 64)
	frame = append(frame, make([]byte, 64)...)
	live := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := live()
	peers := make([]net.Conn, conns)
	for i := range peers {
		peers[i] = dialRaw(t, addr)
		peers[i].SetDeadline(time.Now().Add(wait))
		if _, err := peers[i].Write(frame); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(peers[i], make([]byte, len(frame))); err != nil {
			t.Fatal(err)
		}
	}
	// The readers park a moment after their reply went out: wait for it.
	const limit = 4 << 10
	deadline := time.Now().Add(wait)
	for {
		after := live()
		per := (int64(after) - int64(before)) / conns
		if per < limit {
			t.Logf("live heap per quiet connection: %d bytes", per)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("live heap per quiet connection: %d bytes, want < %d (a read buffer kept?)", per, limit)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, with a deadline
	}
}

// A reader that has given its buffer back while waiting behaves as one that
// kept it: echoes of every size and framing after quiet spells, and the
// right Disconnect reason when the wait ends by a timeout, a close, a reset
// or Close on our side.
func TestQuietConnectionAfterRelease(t *testing.T) {
	len32 := func(n int) []byte {
		f := binary.BigEndian.AppendUint32(nil, uint32(n))
		for i := range n {
			f = append(f, byte(i*7))
		}
		return f
	}
	tests := []struct {
		name    string
		opts    ss.Options
		frames  [][]byte       // each echoed, one round trip at a time
		end     func(net.Conn) // how the quiet connection ends (nil: Close on our side)
		idle    bool           // the end is the idle timeout
		wantErr error
	}{
		{"len32 small, large, small; peer closes", ss.Options{Framing: ss.LengthPrefixed(0)},
			[][]byte{len32(64), len32(64 << 10), len32(10), len32(3000)},
			func(c net.Conn) { c.Close() }, false, ss.ErrPeerClosed},
		{"raw; peer resets", ss.Options{},
			[][]byte{[]byte("hello"), []byte("world, again")},
			func(c net.Conn) { c.(*net.TCPConn).SetLinger(0); c.Close() }, false, ss.ErrConnReset},
		{"KeepData; idle timeout", ss.Options{Framing: ss.LengthPrefixed(0), KeepData: true, IdleTimeout: 100 * time.Millisecond},
			[][]byte{len32(64), len32(5000)},
			nil, true, ss.ErrIdleTimeout},
		{"odd read size; closed by us", ss.Options{Framing: ss.Lines(0), ReadBufferSize: 300},
			[][]byte{[]byte("one\n"), []byte("two, a longer line than the first\n")},
			nil, false, ss.ErrServerClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, addr := startServer(t, ss.ServerConfig{Options: tt.opts})
			peer := dialRaw(t, addr)
			sc := recv(t, srv.Connects(), "connect")
			peer.SetDeadline(time.Now().Add(wait))
			for round := range 3 {
				for _, f := range tt.frames {
					if _, err := peer.Write(f); err != nil {
						t.Fatal(err)
					}
					m := recv(t, srv.Messages(), "message")
					if err := m.Conn.Send(m.Data); err != nil {
						t.Fatal(err)
					}
					got := make([]byte, len(f))
					if _, err := io.ReadFull(peer, got); err != nil {
						t.Fatalf("round %d: %v", round, err)
					}
					if string(got) != string(f) {
						t.Fatalf("round %d: echo of %d bytes differs", round, len(f))
					}
				}
			}
			switch {
			case tt.end != nil:
				tt.end(peer)
			case tt.idle:
			default:
				srv.Close()
			}
			d := recv(t, srv.Disconnects(), "disconnect")
			if d.Conn != sc || !errors.Is(d.Err, tt.wantErr) {
				t.Fatalf("disconnect %v (conn %v), want %v", d.Err, d.Conn, tt.wantErr)
			}
		})
	}
}
