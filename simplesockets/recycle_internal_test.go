package simplesockets

import (
	"testing"

	"github.com/simplesockets/simplesockets-go/internal/bufpool"
)

// The table of lent buffers stays bounded when the application never sends
// what it receives, and only an exact, lent Data is reclaimed.
func TestLendingBounded(t *testing.T) {
	var l lending
	l.m = make(map[uintptr]lentBuf)
	var bufs [][]byte // kept alive, so that every entry stays valid
	for range maxLent + 100 {
		buf := bufpool.Get(8 << 10)[:8<<10]
		bufs = append(bufs, buf)
		l.lend(buf[4:6000:6000], buf)
	}
	if n := len(l.m); n != maxLent || l.n.Load() != maxLent {
		t.Fatalf("%d entries (counter %d), want %d", n, l.n.Load(), maxLent)
	}
	last := bufs[len(bufs)-1]
	for _, d := range [][]byte{
		last[4:5999:5999], // shorter than the Data
		last[5:6000:6000], // another start
		last[4:6000],      // capacity beyond the Data
		append([]byte(nil), last[4:6000]...),
	} {
		l.reclaim(d)
	}
	if len(l.m) != maxLent {
		t.Fatalf("a slice that is not a lent Data was reclaimed: %d entries left", len(l.m))
	}
	l.reclaim(last[4:6000:6000])
	if len(l.m) != maxLent-1 {
		t.Fatalf("the lent Data was not reclaimed: %d entries left", len(l.m))
	}
	l.reclaim(bufs[0][4:6000:6000]) // evicted long ago: nothing to do
	if len(l.m) != maxLent-1 {
		t.Fatalf("an evicted Data was reclaimed")
	}
}
