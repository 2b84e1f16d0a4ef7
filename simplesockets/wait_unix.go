//go:build unix

package simplesockets

import (
	"os"
	"syscall"
)

// waitReadable returns once the socket has something to read (or EOF),
// without a buffer: it peeks at one byte, and if there is none it waits for
// the poller, inside one RawConn.Read call so that no readiness notification
// can be lost in between. Read deadlines apply. A pending socket error (a
// reset) is returned: the peek consumed it, so a read would not see it.
func (c *Conn) waitReadable() error {
	var b [1]byte
	var perr error
	err := c.raw.Read(func(fd uintptr) bool {
		for {
			_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			switch err {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			case nil:
			default:
				perr = os.NewSyscallError("recvfrom", err)
			}
			return true // data, EOF or an error
		}
	})
	if err != nil {
		return err
	}
	return perr
}
