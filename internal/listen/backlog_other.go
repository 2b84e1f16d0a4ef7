//go:build !linux

package listen

import "net"

// setBacklog is a no-op outside Linux: Go's own backlog is kept.
func setBacklog(net.Listener, int) error { return nil }
