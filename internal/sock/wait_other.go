//go:build !unix

package sock

import "syscall"

// WaitReadable returns at once where there is no MSG_PEEK wait: the first
// read then waits with its buffer.
func WaitReadable(syscall.Conn) error { return nil }
