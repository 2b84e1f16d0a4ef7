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
// calling Progress after every system call that moved bytes (but the last)
// and Full when the socket is full; it waits for the poller meanwhile.
// Write deadlines apply.
func (w *Writer) rawWrite(b []byte) (int, error) {
	w.wb, w.wn, w.werr = b, 0, nil
	err := w.raw.Write(w.wf)
	n, werr := w.wn, w.werr
	w.wb, w.werr = nil, nil
	if werr == nil {
		werr = err
	}
	return n, werr
}

// writeFD is rawWrite's function for RawConn.Write.
func (w *Writer) writeFD(fd uintptr) bool {
	for w.wn < len(w.wb) {
		m, e := syscall.Write(int(fd), w.wb[w.wn:])
		if m > 0 {
			w.wn += m
			if w.wn < len(w.wb) {
				w.Events.Progressed() // (a write that completes needs none: the writer is done)
			}
		}
		switch {
		case e == syscall.EINTR:
		case e == syscall.EAGAIN:
			w.Events.Full()
			return false
		case e != nil:
			w.werr = os.NewSyscallError("write", e)
			return true
		case m <= 0:
			w.werr = io.ErrShortWrite
			return true
		}
	}
	return true
}
