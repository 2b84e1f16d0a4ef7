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

// rawWrite writes b with write(2) inside one RawConn.Write call, calling
// Progress after every system call that moved bytes (but the last) and Full
// when the socket is full; it waits for the poller meanwhile. Write
// deadlines apply.
func (w *Writer) rawWrite(b []byte) (int, error) {
	n := 0
	var werr error
	err := w.raw.Write(func(fd uintptr) bool {
		for n < len(b) {
			m, e := syscall.Write(int(fd), b[n:])
			if m > 0 {
				n += m
				if n < len(b) {
					w.Events.Progressed() // (a write that completes needs none: the writer is done)
				}
			}
			switch {
			case e == syscall.EINTR:
			case e == syscall.EAGAIN:
				w.Events.Full()
				return false
			case e != nil:
				werr = os.NewSyscallError("write", e)
				return true
			case m <= 0:
				werr = io.ErrShortWrite
				return true
			}
		}
		return true
	})
	if werr == nil {
		werr = err
	}
	return n, werr
}
