//go:build unix

package sock

import (
	"io"
	"os"
	"syscall"
)

// RawWrites says whether Writer reports progress per system call (else per
// chunk, and every write may find the socket full).
const RawWrites = true

// rawWrite writes b with write(2) inside one RawConn.Write call (writeFD),
// calling Events.Progressed after every system call that moved bytes (but the last)
// and Full when the socket is full; it waits for the poller meanwhile.
// Write deadlines apply.
func (w *Writer) rawWrite(b []byte) (int, error) {
	rs := w.rs
	if rs == nil {
		rs = &rawState{}
		rs.f = w.writeFD
		w.rs = rs
	}
	rs.b, rs.n, rs.err = b, 0, nil
	err := w.raw.Write(rs.f)
	n, werr := rs.n, rs.err
	rs.b, rs.err = nil, nil
	if werr == nil {
		werr = err
	}
	return n, werr
}

// writeFD is rawWrite's function for RawConn.Write.
func (w *Writer) writeFD(fd uintptr) bool {
	rs := w.rs
	for rs.n < len(rs.b) {
		m, e := syscall.Write(int(fd), rs.b[rs.n:])
		if m > 0 {
			rs.n += m
			if rs.n < len(rs.b) {
				w.Events.Progressed() // (a write that completes needs none: the writer is done)
			}
		}
		switch {
		case e == syscall.EINTR:
		case e == syscall.EAGAIN:
			w.Events.Full()
			return false
		case e != nil:
			rs.err = os.NewSyscallError("write", e)
			return true
		case m <= 0:
			rs.err = io.ErrShortWrite
			return true
		}
	}
	return true
}
