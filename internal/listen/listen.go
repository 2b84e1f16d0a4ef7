// Package listen opens listeners the way simplesockets needs them: with a
// listen(2) backlog of the caller's choice and with stale Unix socket files
// removed; and lets a stopping server take what the kernel has queued.
package listen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// ErrAddrInUse is returned when a Unix socket path is in use by a live server.
var ErrAddrInUse = errors.New("address already in use")

// Listen opens a listener on network ("tcp", "tcp4", "tcp6" or "unix") and
// address. backlog > 0 sets the listen(2) backlog (on Linux; elsewhere it is
// ignored); keepAlive is passed to net.ListenConfig. For "unix", a socket file
// left behind by a dead process is removed first; a path that a live server
// answers on, or that is not a socket, is an error.
func Listen(ctx context.Context, network, address string, backlog int, keepAlive time.Duration) (net.Listener, error) {
	if network == "unix" {
		if err := removeStale(address); err != nil {
			return nil, err
		}
	}
	lc := net.ListenConfig{KeepAlive: keepAlive}
	ln, err := lc.Listen(ctx, network, address)
	if err != nil {
		return nil, err
	}
	if backlog > 0 {
		if err := setBacklog(ln, backlog); err != nil {
			ln.Close()
			return nil, fmt.Errorf("listen backlog %d: %w", backlog, err)
		}
	}
	return ln, nil
}

// removeStale removes path if it is a Unix socket nobody accepts on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("%s: %w (a server is listening on it)", path, ErrAddrInUse)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("probe %s: %w", path, err)
	}
	return os.Remove(path)
}

// AcceptFor makes ln's Accept return a timeout d from now, so that a server
// that stops accepting can first take the connections the kernel has
// queued; a listener without deadlines is closed at once instead.
func AcceptFor(ln net.Listener, d time.Duration) {
	if dl, ok := ln.(interface{ SetDeadline(time.Time) error }); ok && dl.SetDeadline(time.Now().Add(d)) == nil {
		return
	}
	ln.Close()
}
