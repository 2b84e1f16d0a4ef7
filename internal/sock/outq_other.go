//go:build !linux

package sock

// Outq cannot tell the socket's send queue here: the stall check goes by
// the writer's progress alone.
func (w *Writer) Outq() (int, bool) { return 0, false }
