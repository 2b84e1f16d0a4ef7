// Package activation gives a server the listening sockets its process
// inherited, so that simplesockets.Server.Serve can use them: from systemd
// socket activation (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES), or from a
// parent process that handed its own over with Pass (a zero-downtime
// restart: the new process accepts on the very socket the old one
// listened on, so no connection is refused in between).
//
// Descriptors are taken from 3 (SD_LISTEN_FDS_START) upwards, as systemd
// passes them. Listeners unsets the variables, so that a process started
// later does not take the same descriptors again.
package activation

import (
	"errors"
	"net"
)

// ErrNone is returned by Listeners when the process inherited no sockets.
var ErrNone = errors.New("activation: no inherited listeners (LISTEN_FDS unset)")

// Listener is an inherited listening socket and its name (LISTEN_FDNAMES,
// or the name given to Pass; "" if none). Serve its Listener field (a
// *net.TCPListener or *net.UnixListener), not the struct: the struct hides
// the socket's SetDeadline, which a Server's Shutdown uses to take what
// the kernel has queued before closing it.
type Listener struct {
	net.Listener
	Name string
}
