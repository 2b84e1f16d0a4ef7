package simplesockets

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/simplesockets/simplesockets-go/internal/errs"
	"github.com/simplesockets/simplesockets-go/internal/frame"
	"github.com/simplesockets/simplesockets-go/internal/sock"
)

// The read path. A connection's reader goroutine reads into its
// frame.Buffer, which cuts frames with the Framing and copies them out (the
// application owns what it receives; internal/frame says how the buffer
// grows for a large frame), and delivers them on Messages (internal/inbox).

// reader is the state of one connection's read loop.
type reader struct {
	c            *Conn
	b            *frame.Buffer
	frameStarted time.Time // when the pending partial frame began
	timeout      error     // the reason if the next read's deadline expires
}

// readLoop reads, splits frames and delivers them until the connection
// ends, and returns why.
func (c *Conn) readLoop() error {
	o := &c.h.opts
	r := &reader{c: c, b: frame.NewBuffer(o.Framing, o.sz, o.readSize, o.maxFrame)}
	defer r.b.Close()
	for {
		room, err := r.b.Room()
		if err != nil {
			return err
		}
		if err := r.prepare(); err != nil {
			return err
		}
		if c.over.Load() { // half the send queue's limit is queued: perhaps a peer that does not read
			if err := c.waitOutbound(); err != nil {
				return err
			}
		}
		n, err := c.nc.Read(room)
		c.h.st.reads.Add(1)
		if err := r.process(n, err); err != nil {
			return err
		}
	}
}

// firstWait waits until a new plain TCP or Unix connection has something
// to read, without a read buffer (sock.WaitReadable): a connection that
// stays idle from the start costs its goroutine and no buffer (doc.go,
// Internals). TLS connections read at once: their handshake has read ahead.
func (c *Conn) firstWait() error {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return nil
	}
	if t := c.h.opts.IdleTimeout; t > 0 {
		_ = c.nc.SetReadDeadline(time.Now().Add(t))
	}
	if err := c.stopping(); err != nil { // Close came before the deadline above replaced its own
		return err
	}
	err := sock.WaitReadable(sc)
	if err == nil {
		return nil
	}
	if err := c.stopping(); err != nil {
		return err
	}
	return classify(err, errIdle)
}

// stopping returns the reason if the reader is to stop: the connection is
// draining (Close), killed, or the owner is closing.
func (c *Conn) stopping() error {
	switch {
	case c.draining.Load():
		return c.setReason(errKicked)
	case c.ctx.Err() != nil:
		return c.setReason(c.h.closeReason)
	}
	return nil
}

// prepare sets the deadline of the next read. A non-nil error ends the
// loop.
func (r *reader) prepare() error {
	c, o := r.c, &r.c.h.opts
	// The deadline of the next read: IdleTimeout from now, and ReadTimeout
	// from the start of a partial frame, whichever comes first; timeout
	// names the one that fires.
	var deadline time.Time
	r.timeout = errIdle
	if o.IdleTimeout > 0 {
		deadline = time.Now().Add(o.IdleTimeout)
	}
	if r.b.Buffered() > 0 && o.ReadTimeout > 0 {
		if d := r.frameStarted.Add(o.ReadTimeout); deadline.IsZero() || d.Before(deadline) {
			deadline, r.timeout = d, ErrReadTimeout
		}
	}
	if !deadline.IsZero() {
		if err := c.nc.SetReadDeadline(deadline); err != nil {
			return classify(err, r.timeout)
		}
	}
	return c.stopping()
}

// process handles n bytes read and the read's error: it cuts and delivers
// the complete frames. A non-nil error ends the loop.
func (r *reader) process(n int, rerr error) error {
	c := r.c
	var now time.Time // when this read returned data: the messages' Time
	if n > 0 {
		now = time.Now()
		c.h.st.bytesIn.Add(uint64(n))
		if r.b.Buffered() == 0 {
			r.frameStarted = now
		}
	}
	began, ferr := r.b.Cut(n)
	if began {
		r.frameStarted = now
	}
	if len(r.b.Frames) > 0 {
		ok := r.deliver(now)
		r.b.Clear()
		if !ok {
			return c.setReason(c.h.closeReason)
		}
	}
	switch {
	case ferr != nil:
		return ferr
	case rerr == nil:
		return nil
	case c.draining.Load() && errors.Is(rerr, os.ErrDeadlineExceeded):
		return c.setReason(errKicked)
	case errors.Is(rerr, io.EOF) && r.b.Buffered() > 0:
		return errs.Because(errPeerClosed, fmt.Errorf("%w: %d bytes of an incomplete frame", io.ErrUnexpectedEOF, r.b.Buffered()))
	}
	return classify(rerr, r.timeout)
}

// message returns frame i as a Message.
func (r *reader) message(i int, now time.Time) Message {
	m := Message{Conn: r.c, Data: r.b.Frames[i], Time: now}
	m.buf, m.tag = r.b.Part(i)
	return m
}

// deliver hands the frames to the Messages channel, in order (waiting for
// room: the backpressure). It returns false, counting the frames not
// delivered as discarded, if c is killed or the owner closes hard first.
func (r *reader) deliver(now time.Time) bool {
	c, n := r.c, 0
	if c.connSeq == 0 || c.waitConnect() {
		c.connSeq = 0 // received: no need to look again
		n = c.h.in.Deliver(&c.inbox, len(r.b.Frames), func(i int) (Message, int) {
			m := r.message(i, now)
			return m, len(m.Data)
		}, c.ctx.Done())
	}
	if n < len(r.b.Frames) {
		c.h.st.discarded.Add(uint64(len(r.b.Frames) - n))
		return false
	}
	return true
}
