// Package sock holds the system-call helpers of the simplesockets core:
// waiting for a socket to become readable without a buffer, writing with
// progress reported per system call, and reading a socket's send queue.
package sock

import (
	"net"
	"sync/atomic"
	"syscall"
)

// Writer is a connection's socket as its writer sees it: every write call
// that moves bytes is reported (Events.Progressed), so that a stall timer measures
// time without progress rather than the duration of a whole write. On unix
// it writes with write(2) through the socket's RawConn (one report per
// system call); elsewhere it writes in chunks of fallbackChunk bytes.
type Writer struct {
	net.Conn
	raw syscall.RawConn // nil: chunked writes
	// Events receives the reports: Progressed after a write call that
	// moved bytes, Full when the socket's buffer is full. Set it before the
	// first Write; only the writing goroutine calls it.
	Events Events

	// busySince is when the current write began or last moved bytes (unix
	// nanoseconds), 0 between writes; stallOutq is the socket's send queue
	// when the write found it full, at the write that began (or last
	// moved) at stallStamp (stall.go).
	busySince, stallOutq, stallStamp atomic.Int64

	rs *rawState // rawWrite's, made by the first write
}

// rawState is rawWrite's state, kept so that a write allocates nothing,
// and made at the first write so that a connection that never writes does
// not pay for it: the bytes to write, how many are written, the error, and
// the function RawConn.Write calls.
type rawState struct {
	b   []byte
	n   int
	err error
	f   func(fd uintptr) bool
}

// Events are a Writer's reports (see Writer.Events).
type Events interface {
	Progressed()
	Full()
}

type noEvents struct{}

func (noEvents) Progressed() {}
func (noEvents) Full()       {}

// NewWriter wraps nc; its Events do nothing until set.
func NewWriter(nc net.Conn) *Writer {
	w := &Writer{Conn: nc, Events: noEvents{}}
	if sc, ok := nc.(syscall.Conn); ok && RawWrites {
		w.raw, _ = sc.SyscallConn()
	}
	return w
}

// fallbackChunk is the most bytes one write carries where there is no
// RawConn: a peer reading slower than that per stall timeout looks stalled.
const fallbackChunk = 16 << 10

// Write writes all of b, or returns the error that stopped it.
func (w *Writer) Write(b []byte) (int, error) {
	if w.raw != nil {
		return w.rawWrite(b)
	}
	n := 0
	for n < len(b) {
		m, err := w.Conn.Write(b[n:min(len(b), n+fallbackChunk)])
		n += m
		if m > 0 {
			w.Events.Progressed()
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
