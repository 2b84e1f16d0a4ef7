package simplesockets

import (
	"context"
	"net"
	"testing"

	"github.com/simplesockets/simplesockets-go/internal/sock"
)

// A partial frame's buffer is at most twice its bytes received, or 128 KiB
// (+64, the class's slack). (Doubling a 2^k+64 buffer used to ask for
// 2^(k+1)+128, which took the class after next: four times.)
func TestReadBufferGrowsWithArrivals(t *testing.T) {
	s, err := NewServer(ServerConfig{Addr: "127.0.0.1:0", Options: Options{Framing: LengthPrefixed(0)}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := newConn(s.h, context.Background(), a, sock.NewWriter(a), func(*Conn) {})
	r := &reader{c: c, buf: make([]byte, s.h.opts.readSize)}
	r.need = 4 + 4<<20 // a header announcing 4 MiB
	for range 6 {
		r.end = len(r.buf) // the partial frame fills buf
		received := r.end
		if err := r.prepare(); err != nil {
			t.Log(err)
			break
		}
		bound := max(2*received, growFree+64)
		if len(r.buf) > bound {
			t.Errorf("after %d bytes of a partial frame the buffer is %d bytes (%.1fx), bound %d", received, len(r.buf), float64(len(r.buf))/float64(received), bound)
		} else {
			t.Logf("after %d bytes: buffer %d", received, len(r.buf))
		}
	}
}
