//go:build unix

package simplesockets

import (
	"io"
	"os"
	"syscall"
)

const rawWrites = true

// rawWrite writes b with write(2) inside one RawConn.Write call, recording
// progress after every system call that moved bytes; it waits for the
// poller while the socket is full. Write deadlines apply.
func (p *progressConn) rawWrite(b []byte) (int, error) {
	n := 0
	var werr error
	err := p.raw.Write(func(fd uintptr) bool {
		for n < len(b) {
			m, e := syscall.Write(int(fd), b[n:])
			if m > 0 {
				n += m
				if n < len(b) {
					p.progress() // (a write that completes needs none: the writer is done)
				}
			}
			switch {
			case e == syscall.EINTR:
			case e == syscall.EAGAIN:
				if c := p.c; c != nil {
					c.noteFull()
				}
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
