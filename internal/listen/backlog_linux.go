package listen

import (
	"errors"
	"net"
	"syscall"
)

// setBacklog calls listen(2) again on the listening socket: Linux then uses
// the new backlog (capped by net.core.somaxconn).
func setBacklog(ln net.Listener, backlog int) error {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return errors.New("listener has no file descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) { lerr = syscall.Listen(int(fd), backlog) }); err != nil {
		return err
	}
	return lerr
}
