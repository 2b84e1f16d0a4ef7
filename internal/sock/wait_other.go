//go:build !unix

package sock

import (
	"errors"
	"syscall"
)

// ErrNoPeek is returned by Peek where there is no MSG_PEEK.
var ErrNoPeek = errors.New("sock: cannot peek at this connection")

// WaitReadable returns at once where there is no MSG_PEEK wait: the first
// read then waits with its buffer.
func WaitReadable(syscall.Conn) error { return nil }

// Peek is not supported here.
func Peek(syscall.Conn, []byte) (int, error) { return 0, ErrNoPeek }
