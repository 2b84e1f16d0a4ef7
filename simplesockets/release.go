package simplesockets

import (
	"sync"
	"sync/atomic"
)

// Release lets the package reuse the memory of m.Data for a later message,
// which saves an allocation (and garbage collection) per large message. It
// is optional: a Message that is never released is garbage collected as
// usual. Call it only when neither m.Data nor any slice of it is used any
// more, by any goroutine: after Release, the memory may be overwritten by
// another connection's message at any moment. (Send copies its argument,
// so m.Conn.Send(m.Data) followed by m.Release() is correct.) Release is
// safe to call more than once and on copies of m: only the first call
// counts. It does something only for a large message that took a read
// buffer of its own (bigger than the read size); for others it is a no-op.
// Under the race detector a released buffer is overwritten with 0xDD, so
// that code still reading it fails its tests, and a read racing with its
// reuse is reported.
func (m Message) Release() {
	if b := m.buf; b != nil {
		b.release(m.gen)
	}
}

// readBuf is a large read buffer from readBufs. gen counts its releases, so
// that a stale Message copy cannot release it again.
type readBuf struct {
	b   []byte
	gen atomic.Uint64
}

func (b *readBuf) release(gen uint64) {
	if !b.gen.CompareAndSwap(gen, gen+1) {
		return
	}
	if raceEnabled {
		for i := range b.b {
			b.b[i] = 0xDD
		}
	}
	readBufs[classOf(len(b.b))].Put(b)
}

// Read buffer classes: 2^13 to 2^22 bytes, each plus 64 so that a
// power-of-two payload and its header fit.
const (
	minReadClass = 13
	maxReadClass = 22
)

var readBufs [maxReadClass - minReadClass + 1]sync.Pool // of *readBuf

// classOf returns the class of a buffer of size bytes, or -1 if it has none.
func classOf(size int) int {
	for k := minReadClass; k <= maxReadClass; k++ {
		if size <= 1<<k+64 {
			return k - minReadClass
		}
	}
	return -1
}

// getReadBuf returns a buffer of at least size bytes: a pooled one of its
// class, or nil if size is over the largest class.
func getReadBuf(size int) *readBuf {
	k := classOf(size)
	if k < 0 {
		return nil
	}
	if b, ok := readBufs[k].Get().(*readBuf); ok {
		return b
	}
	return &readBuf{b: make([]byte, 1<<(k+minReadClass)+64)}
}
