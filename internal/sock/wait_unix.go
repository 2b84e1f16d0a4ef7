//go:build unix

package sock

import (
	"errors"
	"io"
	"os"
	"syscall"
)

// ErrNoPeek is returned by Peek for a connection without a RawConn.
var ErrNoPeek = errors.New("sock: cannot peek at this connection")

// WaitReadable returns once the socket has something to read (or EOF, or
// an error), without a buffer: it peeks at one byte and, if there is none,
// waits for the poller, inside one RawConn.Read call so that no readiness
// notification can be lost in between. Read deadlines apply. A pending
// socket error (a reset) is returned: the peek consumed it. Without a
// RawConn it returns at once: the read will say why.
func WaitReadable(sc syscall.Conn) error {
	var b [1]byte
	_, err := Peek(sc, b[:])
	if errors.Is(err, ErrNoPeek) || err == io.EOF {
		return nil // the read will say
	}
	return err
}

// Peek waits until the socket has bytes to read and copies up to len(b) of
// them into b without consuming them (MSG_PEEK). It returns io.EOF if the
// peer closed with nothing to read. Read deadlines apply.
func Peek(sc syscall.Conn, b []byte) (int, error) {
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, ErrNoPeek
	}
	n := 0
	var perr error
	err = raw.Read(func(fd uintptr) bool {
		for {
			m, _, err := syscall.Recvfrom(int(fd), b, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			switch err {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			case nil:
				n = m
				if m == 0 {
					perr = io.EOF
				}
			default:
				perr = os.NewSyscallError("recvfrom", err)
			}
			return true
		}
	})
	if err != nil {
		return 0, err
	}
	return n, perr
}
