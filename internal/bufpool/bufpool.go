// Package bufpool recycles byte buffers by size class.
//
// Ownership: a buffer returned by Get belongs to the caller until it passes
// it to Put; after Put the caller must not touch it (nor any slice of it).
// Put of a buffer that is still referenced elsewhere corrupts that reference,
// so only buffers that never left the package go back. A buffer from Get is
// not zeroed: it may hold bytes of its previous user.
//
// Get and Put are safe for concurrent use.
package bufpool

import (
	"sync"
	"unsafe"
)

// Slack is added to every class above 4 KiB, so that a power-of-two payload
// and its frame header (a 4-byte length, a delimiter) fit the class of the
// payload's size instead of the next one, which would hold twice the memory.
const Slack = 64

// The classes are 2 KiB and 4 KiB (the default read sizes), then 8 KiB ...
// 1 MiB in powers of two, each plus Slack: Get rounds a size up by less than
// 2×. The pools hold pointers to arrays, so that Put does not allocate.
var classes = [...]class{
	newClass[[2 << 10]byte](),
	newClass[[4 << 10]byte](),
	newClass[[8<<10 + Slack]byte](),
	newClass[[16<<10 + Slack]byte](),
	newClass[[32<<10 + Slack]byte](),
	newClass[[64<<10 + Slack]byte](),
	newClass[[128<<10 + Slack]byte](),
	newClass[[256<<10 + Slack]byte](),
	newClass[[512<<10 + Slack]byte](),
	newClass[[1<<20 + Slack]byte](),
}

// MaxSize is the largest size Get takes from a pool; larger buffers are
// allocated, and Put ignores them.
var MaxSize = classes[len(classes)-1].size

type class struct {
	size int
	get  func() []byte
	put  func([]byte) // b's capacity is size
}

func newClass[A any]() class {
	var p *A                       // a var a A would be a heap allocation of up to 1 MiB at init
	size := int(unsafe.Sizeof(*p)) // not evaluated: no allocation
	pool := &sync.Pool{New: func() any { return new(A) }}
	return class{
		size: size,
		get:  func() []byte { return unsafe.Slice((*byte)(unsafe.Pointer(pool.Get().(*A))), size)[:0] },
		put:  func(b []byte) { pool.Put((*A)(unsafe.Pointer(unsafe.SliceData(b)))) },
	}
}

// IsClass reports whether size is exactly the capacity of a class: a
// buffer of that length from Get has no capacity beyond it.
func IsClass(size int) bool {
	for i := range classes {
		if classes[i].size == size {
			return true
		}
	}
	return false
}

// Get returns an empty buffer with a capacity of at least size.
func Get(size int) []byte {
	for i := range classes {
		if c := &classes[i]; size <= c.size {
			return c.get()
		}
	}
	return make([]byte, 0, size)
}

// Put returns b, which must have come from Get (its capacity untouched), to
// its pool. A buffer of any other capacity is left to the garbage collector.
func Put(b []byte) {
	n := cap(b)
	for i := range classes {
		if c := &classes[i]; n == c.size {
			c.put(b)
			return
		}
	}
}
