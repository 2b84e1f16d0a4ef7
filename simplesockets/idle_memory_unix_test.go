//go:build unix

package simplesockets_test

import (
	"encoding/binary"
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
		per := int64(after-before) / conns
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
