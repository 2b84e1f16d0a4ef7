//go:build !unix

package simplesockets

// waitReadable is a no-op where the socket cannot be peeked at: the read
// buffer is allocated at once.
func (c *Conn) waitReadable() error { return nil }
