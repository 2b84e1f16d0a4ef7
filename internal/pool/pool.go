// Package pool holds the large-buffer pools of the simplesockets core: read
// buffers that the application gives back with Message.Release, and write
// buffers that idle writers give up. Small buffers are not pooled.
package pool

import (
	"sync"
	"sync/atomic"
)

// ReadBuf is a large read buffer. Its generation counts its releases, so
// that a stale copy of a Message cannot release it twice.
type ReadBuf struct {
	B   []byte
	gen atomic.Uint64
}

// Gen is the buffer's generation: pass it to Release.
func (b *ReadBuf) Gen() uint64 { return b.gen.Load() }

// Release puts the buffer back if gen is still its generation. Under the
// race detector it first overwrites it with 0xDD, so that code still
// reading it fails its tests, and a read racing with its reuse is reported.
func (b *ReadBuf) Release(gen uint64) {
	if !b.gen.CompareAndSwap(gen, gen+1) {
		return
	}
	if raceEnabled {
		for i := range b.B {
			b.B[i] = 0xDD
		}
	}
	readBufs[classOf(len(b.B))].Put(b)
}

// Read buffer classes: 2^13 to 2^22 bytes, each plus 64 so that a
// power-of-two payload and its header fit.
const (
	minReadClass = 13
	maxReadClass = 22
)

var readBufs [maxReadClass - minReadClass + 1]sync.Pool // of *ReadBuf

// classOf returns the class of a buffer of size bytes, or -1 if it has none.
func classOf(size int) int {
	for k := minReadClass; k <= maxReadClass; k++ {
		if size <= 1<<k+64 {
			return k - minReadClass
		}
	}
	return -1
}

// GetRead returns a buffer of at least size bytes: a pooled one of its
// class, with its ReadBuf, or (nil ReadBuf) a new one of size bytes if
// size is over the largest class.
func GetRead(size int) ([]byte, *ReadBuf) {
	k := classOf(size)
	if k < 0 {
		return make([]byte, size), nil
	}
	b, ok := readBufs[k].Get().(*ReadBuf)
	if !ok {
		b = &ReadBuf{B: make([]byte, 1<<(k+minReadClass)+64)}
	}
	return b.B, b
}

// KeepWrite is the largest write buffer a connection keeps while its
// writer is idle; a larger one goes back to the pool (PutWrite).
const KeepWrite = 64 << 10

// writeBufs holds large write buffers that idle writers gave up, for the
// next large Send of any connection: without it, every batch of large
// messages allocated fresh memory (harness S4).
var writeBufs sync.Pool // of *[]byte

// GrowWrite returns b with room for need more bytes, growing it by
// doubling but not past limit (if positive) unless one message needs it;
// a large b goes back to the pool.
func GrowWrite(b []byte, need, limit int) []byte {
	size := max(2*cap(b), 1<<10)
	if limit > 0 {
		size = min(size, limit)
	}
	size = max(size, len(b)+need)
	var nb []byte
	if size > KeepWrite {
		// A pooled buffer too small for this queue is dropped, not put
		// back: sync.Pool would hand that same one out again first (its
		// per-P slot), and every large Send would allocate (S4: +20 % CPU).
		if p, ok := writeBufs.Get().(*[]byte); ok && cap(*p) >= size {
			nb = (*p)[:0]
		}
	}
	if nb == nil {
		nb = make([]byte, 0, size)
	}
	nb = append(nb, b...)
	PutWrite(b)
	return nb
}

// PutWrite gives b, no longer used, back to the pool if it is large, and
// returns what the caller may keep: nil then, else b.
func PutWrite(b []byte) []byte {
	if cap(b) <= KeepWrite {
		return b
	}
	p := new([]byte) // (not &b: b would move to the heap on every call)
	*p = b[:0]
	writeBufs.Put(p)
	return nil
}
