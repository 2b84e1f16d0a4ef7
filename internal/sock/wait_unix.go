//go:build unix

package sock

import (
	"os"
	"syscall"
)

// WaitReadable returns once the socket has something to read (or EOF, or
// an error), without a buffer: it peeks at one byte and, if there is none,
// waits for the poller, inside one RawConn.Read call so that no readiness
// notification can be lost in between. Read deadlines apply. A pending
// socket error (a reset) is returned: the peek consumed it. Without a
// RawConn it returns at once: the read will say why.
func WaitReadable(sc syscall.Conn) error {
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	var b [1]byte
	var perr error
	err = raw.Read(func(fd uintptr) bool {
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
			return true
		}
	})
	if err != nil {
		return err
	}
	return perr
}
