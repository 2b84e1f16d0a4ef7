//go:build !linux

package simplesockets

// outq cannot tell the socket's send queue here: the stall check goes by
// the writer's progress alone.
func (p *progressConn) outq() (int, bool) { return 0, false }
