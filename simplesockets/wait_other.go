//go:build !unix

package simplesockets

import "syscall"

// waitReadable returns at once where there is no MSG_PEEK wait: the first
// read then waits with its buffer.
func waitReadable(syscall.RawConn) error { return nil }
