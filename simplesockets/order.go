package simplesockets

import "time"

// Per-connection order across the four channels (package doc, "Lifecycle
// events"): receptions are counted (internal/inbox), and only subscribed
// channels are waited for; once the owner closes hard, nothing is.

// closeGrace is how long Disconnects keep being delivered after a hard
// close while the application takes none: Close takes that much longer
// only if nobody reads a full, subscribed Disconnects channel.
const closeGrace = 500 * time.Millisecond

// connectReceived reports whether c's Connect has been received, or is
// not waited for.
func (h *hub) connectReceived(c *Conn) bool {
	if c.connSeq == 0 {
		return true
	}
	// sent is loaded first, so inCh may count Connects sent since (and
	// one sent but not yet counted): never more received than this says.
	sent, inCh := h.connSent.Load(), uint64(len(h.connects))
	return sent >= inCh && sent-inCh >= c.connSeq
}

// waitConnect waits until c's Connect has been received. It returns false
// if c is killed or the owner closes hard first.
func (c *Conn) waitConnect() bool {
	return c.h.poll(func() bool { return c.h.connectReceived(c) }, c.ctx.Done())
}

// waitDelivered waits until c's Connect and all of its messages in
// Messages have been received, or the owner closes hard.
func (c *Conn) waitDelivered() {
	h := c.h
	h.poll(func() bool {
		if !h.connectReceived(c) {
			return false
		}
		return !h.subMessages.Load() || h.in.Held(&c.inbox) == 0
	}, nil)
}

// poll waits until cond holds, polling with backoff (20us to 5ms, as the
// inbox does: up to EventBuffer readers may poll at once); it
// returns false if stop is closed or the owner closes hard first.
func (h *hub) poll(cond func() bool, stop <-chan struct{}) bool {
	for d := 10 * time.Microsecond; !cond(); {
		d = min(2*d, 5*time.Millisecond)
		if !sleep(d, stop, h.hard, nil) {
			return false
		}
	}
	return true
}

// sleep waits for d, or until a, b or c (if not nil) is ready; it reports
// whether d has passed.
func sleep(d time.Duration, a, b, c <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-a:
	case <-b:
	case <-c:
	}
	return false
}

// closing delivers v on ch after the owner closed hard: if grace, for as
// long as the application keeps taking from ch (it gives up once nothing
// was taken for closeGrace); else only if there is room.
func closing[T any](h *hub, ch chan T, v T, grace bool) bool {
	select {
	case ch <- v:
		return true
	default:
		if !grace {
			return false
		}
	}
	t := time.NewTicker(closeGrace / 10)
	defer t.Stop()
	for {
		select {
		case ch <- v:
			h.progress.Store(time.Now().UnixNano())
			return true
		case <-t.C:
			if time.Since(time.Unix(0, h.progress.Load())) > closeGrace {
				return false
			}
		}
	}
}
