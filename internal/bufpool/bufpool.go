// Package bufpool recycles byte buffers by size class.
//
// Ownership: a buffer returned by Get belongs to the caller until it passes
// it to Put; after Put the caller must not touch it (nor any slice of it).
// Put of a buffer that is still referenced elsewhere corrupts that reference,
// so only buffers that never left the package go back.
package bufpool

import "sync"

// classes are the capacities handed out; a request above the largest is
// allocated and never pooled.
var classes = [...]int{4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20}

var pools [len(classes)]sync.Pool

// Get returns a buffer of length 0 and capacity at least size.
func Get(size int) []byte {
	for i, c := range classes {
		if size <= c {
			if p, ok := pools[i].Get().(*[]byte); ok {
				return (*p)[:0]
			}
			return make([]byte, 0, c)
		}
	}
	return make([]byte, 0, size)
}

// Put recycles b if its capacity is one of the classes.
func Put(b []byte) {
	c := cap(b)
	for i, cc := range classes {
		if c == cc {
			b = b[:0]
			pools[i].Put(&b)
			return
		}
	}
}
