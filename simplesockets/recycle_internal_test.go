package simplesockets

import (
	"testing"

	"github.com/simplesockets/simplesockets-go/internal/bufpool"
)

// The table of lent buffers stays bounded when the application never sends
// what it receives, and only an exact, lent Data sent on its own connection
// is reclaimed.
func TestLendingBounded(t *testing.T) {
	var l lending
	l.m = make(map[uintptr]lentBuf)
	c, other := &Conn{}, &Conn{}
	var bufs [][]byte // kept alive, so that every entry stays valid
	for range maxLent + 100 {
		buf := bufpool.Get(8 << 10)[:8<<10]
		bufs = append(bufs, buf)
		l.lend(buf[4:6000:6000], buf, c)
	}
	if n := len(l.m); n != maxLent || l.n.Load() != maxLent {
		t.Fatalf("%d entries (counter %d), want %d", n, l.n.Load(), maxLent)
	}
	last := bufs[len(bufs)-1]
	for _, tc := range []struct {
		name string
		data []byte
		conn *Conn
	}{
		{"shorter than the Data", last[4:5999:5999], c},
		{"another start", last[5:6000:6000], c},
		{"capacity beyond the Data", last[4:6000], c},
		{"a copy", append([]byte(nil), last[4:6000]...), c},
		{"sent on another connection", last[4:6000:6000], other},
	} {
		l.reclaim(tc.data, tc.conn)
		if len(l.m) != maxLent {
			t.Fatalf("%s: reclaimed, %d entries left", tc.name, len(l.m))
		}
	}
	l.reclaim(last[4:6000:6000], c)
	if len(l.m) != maxLent-1 {
		t.Fatalf("the lent Data was not reclaimed: %d entries left", len(l.m))
	}
	l.reclaim(bufs[0][4:6000:6000], c) // evicted long ago: nothing to do
	if len(l.m) != maxLent-1 {
		t.Fatalf("an evicted Data was reclaimed")
	}
}
