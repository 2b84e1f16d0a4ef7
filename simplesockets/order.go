package simplesockets

import "time"

// Per-connection order across the four channels. A select loop over them
// receives, for each connection, its Connect before any of its Messages
// and its Disconnect after its last Message. A receive from a buffered
// channel cannot be observed, but its count can (inbox.go): the
// connection's reader waits until its Connect has been received before
// delivering its first message, and its Disconnect waits until its
// Connect and every message it delivered have been received. Only
// subscribed channels are waited for (an accessor was called); once the
// owner closes hard, nothing waits for order any more.

// closeGrace is how long Disconnects keep being delivered after a hard
// close (Close) while the application takes none: Close takes that much
// longer only if nobody reads a subscribed Disconnects channel that is
// full.
const closeGrace = 500 * time.Millisecond

// connectReceived reports whether c's Connect has been received, or is
// not waited for.
func (h *hub) connectReceived(c *Conn) bool {
	return c.connSeq == 0 || h.connSent.Load()-uint64(len(h.connects)) >= c.connSeq
}

// waitConnect waits until c's Connect has been received. It returns false
// if c is killed or the owner closes hard first.
func (c *Conn) waitConnect() bool {
	return c.h.poll(func() bool { return c.h.connectReceived(c) }, c.ctx.Done())
}

// waitDelivered waits until c's Connect and all of its messages in
// Messages have been received, or the owner closes hard.
func (c *Conn) waitDelivered() {
	h, in := c.h, c.h.in
	h.poll(func() bool {
		if !h.connectReceived(c) {
			return false
		}
		if !h.subMessages.Load() {
			return true
		}
		in.mu.Lock()
		in.reclaimLocked(len(in.ch))
		n := c.inCh
		in.mu.Unlock()
		return n == 0
	}, nil)
}

// poll waits until cond holds, polling with backoff (20us to 1ms); it
// returns false if stop is closed or the owner closes hard first.
func (h *hub) poll(cond func() bool, stop <-chan struct{}) bool {
	for d := 10 * time.Microsecond; !cond(); {
		d = min(2*d, time.Millisecond)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
			return false
		case <-h.hard:
			t.Stop()
			return false
		}
	}
	return true
}

// emitClosing delivers d after the owner closed hard, for as long as the
// application keeps taking Disconnects: it gives up once none was taken
// for closeGrace.
func (h *hub) emitClosing(d Disconnect) bool {
	t := time.NewTicker(closeGrace / 10)
	defer t.Stop()
	for {
		select {
		case h.disconnects <- d:
			h.progress.Store(time.Now().UnixNano())
			return true
		case <-t.C:
			if time.Since(time.Unix(0, h.progress.Load())) > closeGrace {
				return false
			}
		}
	}
}
