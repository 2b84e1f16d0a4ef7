//go:build unix

package simplesockets

import "syscall"

// rawIO says whether a server's plain connections are read and written
// with system calls of the package's own inside RawConn callbacks (the
// flusher's non-blocking writes, rawRead, parking).
const rawIO = true

// write is tryWrite's RawConn.Write callback: one write(2).
func (w *rawWrite) write(fd uintptr) bool {
	for {
		w.n, w.err = syscall.Write(int(fd), w.buf)
		if w.err != syscall.EINTR {
			return true
		}
	}
}
