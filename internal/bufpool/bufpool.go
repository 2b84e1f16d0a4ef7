// Package bufpool recycles byte buffers by size class.
//
// Ownership: a buffer returned by Get belongs to the caller until it passes
// it to Put; after Put the caller must not touch it (nor any slice of it).
// Put of a buffer that is still referenced elsewhere corrupts that reference,
// so only buffers that never left the package go back.
package bufpool

import "sync"

// The classes are 4, 16, 64, 256 KiB and 1 MiB. The pools hold pointers to
// arrays, so that Put does not allocate.
var (
	p4   = sync.Pool{New: func() any { return new([4 << 10]byte) }}
	p16  = sync.Pool{New: func() any { return new([16 << 10]byte) }}
	p64  = sync.Pool{New: func() any { return new([64 << 10]byte) }}
	p256 = sync.Pool{New: func() any { return new([256 << 10]byte) }}
	p1m  = sync.Pool{New: func() any { return new([1 << 20]byte) }}
)

// Get returns a buffer of length 0 and capacity at least size: one of the
// classes, or an unpooled allocation above 1 MiB.
func Get(size int) []byte {
	switch {
	case size <= 4<<10:
		return p4.Get().(*[4 << 10]byte)[:0]
	case size <= 16<<10:
		return p16.Get().(*[16 << 10]byte)[:0]
	case size <= 64<<10:
		return p64.Get().(*[64 << 10]byte)[:0]
	case size <= 256<<10:
		return p256.Get().(*[256 << 10]byte)[:0]
	case size <= 1<<20:
		return p1m.Get().(*[1 << 20]byte)[:0]
	}
	return make([]byte, 0, size)
}

// Put recycles b if its capacity is exactly one of the classes (which is
// what Get hands out); anything else is left to the garbage collector.
func Put(b []byte) {
	switch cap(b) {
	case 4 << 10:
		p4.Put((*[4 << 10]byte)(b[:cap(b)]))
	case 16 << 10:
		p16.Put((*[16 << 10]byte)(b[:cap(b)]))
	case 64 << 10:
		p64.Put((*[64 << 10]byte)(b[:cap(b)]))
	case 256 << 10:
		p256.Put((*[256 << 10]byte)(b[:cap(b)]))
	case 1 << 20:
		p1m.Put((*[1 << 20]byte)(b[:cap(b)]))
	}
}
