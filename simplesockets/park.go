package simplesockets

// Parking. A server's plain connection that has sent nothing yet needs no
// goroutine: after its Connect event its goroutine registers it with the
// server's idle poller (park_linux.go: an epoll set of the package's own)
// and ends. The first of these resumes it, on a new goroutine of the
// server's group, exactly once: the poller seeing it readable (data, EOF,
// an error), or kill or beginDrain (Close, Shutdown, the server closing,
// a failed Send). An idle connection then costs its Conn and socket, not a
// goroutine and its stack.
//
// Connections with an IdleTimeout do not park (their deadline needs a
// waiting goroutine), nor TLS ones (the handshake has run on the goroutine
// and a read may be buffered inside tls.Conn), nor a Client's.

// park tries to park c and reports whether it did: then the caller's
// goroutine must end without touching c's read side.
func (c *Conn) park() bool {
	p := c.h.idle
	if p == nil || c.resume == nil || c.raw == nil || c.h.opts.IdleTimeout > 0 {
		return false
	}
	if !p.acquire() {
		return false // the server is closing
	}
	c.parked.Store(true)
	// A wake-up that came before parked was set found nothing to resume:
	// wakeReq, set before it looks, tells this goroutine to go on instead.
	if c.wakeReq.Load() || !p.add(c) {
		if c.parked.CompareAndSwap(true, false) {
			p.release(c)
			return false
		}
		return true // resumed meanwhile, by someone else, who releases
	}
	if !c.parked.Load() {
		p.remove(c) // resumed before add: its entry would stay
	}
	return true
}

// wake resumes c if it is parked: kill and beginDrain call it after setting
// what the reader will find (the reason, draining, a closed socket).
func (c *Conn) wake() {
	c.wakeReq.Store(true)
	c.unpark()
}

// unpark resumes a parked c on a new goroutine; only the first caller does.
// c releases its hold on the poller only after its goroutine is started:
// until then it keeps the poller, and so the server's group, running
// (park_linux.go).
func (c *Conn) unpark() {
	if c.parked.CompareAndSwap(true, false) {
		c.resume()
		c.h.idle.release(c)
	}
}
