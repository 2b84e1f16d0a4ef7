package sock

import (
	"syscall"
	"unsafe"
)

// Outq returns the bytes in the socket's send queue not yet taken by the
// peer (TIOCOUTQ: unsent or unacknowledged for TCP, unread for Unix
// sockets), and false if it cannot tell.
func (w *Writer) Outq() (int, bool) {
	if w.raw == nil {
		return 0, false
	}
	var v int32
	var errno syscall.Errno
	err := w.raw.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&v)))
	})
	if err != nil || errno != 0 {
		return 0, false
	}
	return int(v), true
}
