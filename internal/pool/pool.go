// Package pool holds the buffer pools of the simplesockets core: read
// buffers that the application gives back with Message.Release, and large
// write buffers that idle writers give up.
package pool

import (
	"sync"
	"sync/atomic"
)

// MaxParts is the most messages one ReadBuf is handed out as.
const MaxParts = 32

// ReadBuf is a pooled read buffer, handed to the application as the Data
// of 1 to MaxParts messages (its parts). It goes back to the pool once
// every part has been released. Its state packs its generation (the high
// 32 bits), which counts its trips through the pool so that a stale copy
// of a Message cannot release it, and which parts of this generation are
// released (a bit each).
type ReadBuf struct {
	B     []byte
	state atomic.Uint64
}

// Tag names part i of the n parts that b is handed out as, in b's current
// generation: a Message keeps it for Release. Only b's holder, before the
// last part is handed out, calls it.
func (b *ReadBuf) Tag(i, n int) uint64 {
	return b.state.Load()>>32<<32 | uint64(i)<<8 | uint64(n)
}

// Release marks the part that tag names as released, if tag is of b's
// current generation and the part is not released yet; once every part
// is, b goes back to the pool (unless that was its 2^32nd generation).
// Under the race detector it is first overwritten with 0xDD, so that code
// still reading it fails its tests, and a read racing with its reuse is
// reported. Safe for concurrent use.
func (b *ReadBuf) Release(tag uint64) {
	gen, bit, all := tag>>32, uint64(1)<<(tag>>8&0xff), uint64(1)<<(tag&0xff)-1
	for {
		s := b.state.Load()
		if s>>32 != gen || s&bit != 0 {
			return // stale or released already
		}
		ns := s | bit
		if ns&all == all {
			ns = (gen + 1) << 32 // every part is back: the next generation
		}
		if !b.state.CompareAndSwap(s, ns) {
			continue
		}
		if ns>>32 != gen && gen != 1<<32-1 {
			b.put() // (after the last generation, it is left to the garbage collector: a wrap could match stale tags)
		}
		return
	}
}

func (b *ReadBuf) put() {
	if raceEnabled {
		for i := range b.B {
			b.B[i] = 0xDD
		}
	}
	readBufs[classOf(len(b.B))].Put(b)
}

// Read buffer classes: 256 to 8192 bytes in steps of 256 (the blocks that
// a read's small frames are copied into), then 2^13 to 2^22 bytes, each
// plus 64 so that a power-of-two payload and its header fit (the buffers
// large frames are read into).
const (
	smallStep    = 256
	smallClasses = 8192 / smallStep
	minReadClass = 13
	maxReadClass = 22
)

var readBufs [smallClasses + maxReadClass - minReadClass + 1]sync.Pool // of *ReadBuf

// classOf returns the class of a buffer of size bytes, or -1 if it has none.
func classOf(size int) int {
	if size <= smallClasses*smallStep {
		return max(size-1, 0) / smallStep
	}
	for k := minReadClass; k <= maxReadClass; k++ {
		if size <= 1<<k+64 {
			return smallClasses + k - minReadClass
		}
	}
	return -1
}

// classSize returns the size of the buffers of class k.
func classSize(k int) int {
	if k < smallClasses {
		return (k + 1) * smallStep
	}
	return 1<<(k-smallClasses+minReadClass) + 64
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
		b = &ReadBuf{B: make([]byte, classSize(k))}
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
