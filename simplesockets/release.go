package simplesockets

// Release lets the package reuse the memory of m.Data for a later message,
// which saves an allocation (and garbage collection) per large message. It
// is optional: a Message that is never released is garbage collected as
// usual. Call it only when neither m.Data nor any slice of it is used any
// more, by any goroutine: after Release, the memory may be overwritten by
// another connection's message at any moment. (Send copies its argument,
// so m.Conn.Send(m.Data) followed by m.Release() is correct.) Release is
// safe to call more than once and on copies of m: only the first call
// counts. It does something only for a large message that took a read
// buffer of its own (bigger than the read size); for others it is a no-op.
// Under the race detector a released buffer is overwritten with 0xDD, so
// that code still reading it fails its tests, and a read racing with its
// reuse is reported (internal/pool).
func (m Message) Release() {
	if b := m.buf; b != nil {
		b.Release(m.gen)
	}
}
