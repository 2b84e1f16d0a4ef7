// Package ring is a FIFO queue of fixed capacity, for the Messages inbox of
// package simplesockets.
package ring

// Ring holds at most its capacity values, oldest first. It is not safe for
// concurrent use.
type Ring[T any] struct {
	buf     []T
	head, n int // buf[head] is the oldest of the n values held
}

// New returns an empty Ring of the given capacity.
func New[T any](capacity int) Ring[T] { return Ring[T]{buf: make([]T, capacity)} }

// Len returns the number of values held.
func (r *Ring[T]) Len() int { return r.n }

// Full reports whether the ring holds its capacity.
func (r *Ring[T]) Full() bool { return r.n == len(r.buf) }

// Push appends v; the ring must not be full.
func (r *Ring[T]) Push(v T) {
	i := r.head + r.n
	if i >= len(r.buf) {
		i -= len(r.buf)
	}
	r.buf[i] = v
	r.n++
}

// Pop removes and returns the oldest value, clearing its slot; the ring
// must not be empty.
func (r *Ring[T]) Pop() T {
	var zero T
	v := r.buf[r.head]
	r.buf[r.head] = zero
	if r.head++; r.head == len(r.buf) {
		r.head = 0
	}
	r.n--
	return v
}
