package simplesockets

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/simplesockets/simplesockets-go/internal/errs"
	"github.com/simplesockets/simplesockets-go/internal/pool"
	"github.com/simplesockets/simplesockets-go/internal/sock"
)

// The read path. A connection's reader goroutine reads into buf, cuts
// frames with the Framing, copies them out (the application owns what it
// receives) and delivers them on Messages (internal/inbox).
//
// buf starts at the read size. While a frame is incomplete and fills it, it
// grows to what the frame needs, but never past twice the bytes that have
// arrived or growFree, whichever is more (plus 64 bytes: buffers come in
// classes of 2^k+64, internal/pool): a 4-byte header announcing 4 MiB costs at
// most growFree. After the frame, it shrinks back.

// growFree is how large a read buffer may grow for a frame before its bytes
// have arrived.
const growFree = 128 << 10

// reader is the state of one connection's read loop.
type reader struct {
	c            *Conn
	buf          []byte
	spare        []byte          // the read-size buffer, set aside while buf is grown
	big          *pool.ReadBuf   // buf's pooled buffer, if buf is one (internal/pool)
	blocks       []*pool.ReadBuf // the frames' pooled buffers, one per MaxParts frames (nil: not pooled)
	start, end   int             // buf[start:end] is received and not yet consumed
	frames       [][]byte
	frameStarted time.Time // when the pending partial frame began
	need         int       // size of the pending frame, if the framing knows it
	timeout      error     // the reason if the next read's deadline expires
}

// readLoop reads, splits frames and delivers them until the connection
// ends, and returns why.
func (c *Conn) readLoop() error {
	r := &reader{c: c, buf: make([]byte, c.h.opts.readSize)}
	defer r.dropBig()
	for {
		if err := r.prepare(); err != nil {
			return err
		}
		if c.over.Load() { // half the send queue's limit is queued: perhaps a peer that does not read
			if err := c.waitOutbound(); err != nil {
				return err
			}
		}
		n, err := c.nc.Read(r.buf[r.end:])
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

// prepare makes room in buf and sets the deadline of the next read. A
// non-nil error ends the loop.
func (r *reader) prepare() error {
	c, o := r.c, &r.c.h.opts
	if r.start > 0 && (r.end == len(r.buf) || r.need > len(r.buf)-r.start) {
		r.end = copy(r.buf, r.buf[r.start:r.end])
		r.start = 0
	}
	if r.end == len(r.buf) { // an incomplete frame fills buf: grow it (see above)
		if r.end >= o.maxFrame {
			return fmt.Errorf("%w: more than %d bytes without a complete frame", ErrMessageTooLarge, o.maxFrame)
		}
		size := min(max(2*len(r.buf)-64, growFree), o.maxFrame) // -64: the next class, not the one after (internal/pool)
		if r.need > len(r.buf) {
			size = min(size, r.need)
		}
		nb, big := pool.GetRead(size)
		copy(nb, r.buf[:r.end])
		if len(r.buf) == o.readSize {
			r.spare = r.buf
		}
		r.dropBig()
		r.buf, r.big = nb, big
	}
	// The deadline of the next read: IdleTimeout from now, and ReadTimeout
	// from the start of a partial frame, whichever comes first; timeout
	// names the one that fires.
	var deadline time.Time
	r.timeout = errIdle
	if o.IdleTimeout > 0 {
		deadline = time.Now().Add(o.IdleTimeout)
	}
	if r.end > r.start && o.ReadTimeout > 0 {
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

// process handles n bytes read and the read's error: it splits and delivers
// the complete frames. A non-nil error ends the loop.
func (r *reader) process(n int, rerr error) error {
	c, o := r.c, &r.c.h.opts
	var now time.Time // when this read returned data: the messages' Time
	if n > 0 {
		now = time.Now()
		c.h.st.bytesIn.Add(uint64(n))
		if r.end == r.start {
			r.frameStarted = now
		}
		r.end += n
	}
	first := r.start
	r.frames = r.frames[:0]
	r.need = 0
	var ferr error
	for r.start < r.end {
		adv, f, err := o.Framing.Split(r.buf[r.start:r.end:r.end]) // (data's capacity ends at r.end: handOver)
		if err != nil {
			ferr = err
			break
		}
		if adv <= 0 {
			if o.sz != nil {
				r.need = o.sz.FrameLen(r.buf[r.start:r.end])
			}
			break
		}
		if adv > r.end-r.start {
			ferr = fmt.Errorf("%w: framing consumed %d of %d bytes", ErrInvalidMessage, adv, r.end-r.start)
			break
		}
		r.frames = append(r.frames, f)
		r.start += adv
	}
	began := r.start > first && r.start < r.end // a new partial frame began in this read
	if len(r.frames) > 0 {
		r.handOver()
		if !r.deliver(now) {
			return c.setReason(c.h.closeReason)
		}
	}
	if r.start == r.end {
		r.start, r.end = 0, 0
		if len(r.buf) > o.readSize {
			r.dropBig()
			r.buf = r.takeSpare() // shrink back after a large frame
		}
	} else if began {
		r.frameStarted = now
	}
	if ferr != nil {
		if !errors.Is(ferr, ErrMessageTooLarge) && !errors.Is(ferr, ErrInvalidMessage) {
			ferr = errs.Because(ErrInvalidMessage, ferr)
		}
		return ferr
	}
	switch {
	case rerr == nil:
		return nil
	case c.draining.Load() && errors.Is(rerr, os.ErrDeadlineExceeded):
		return c.setReason(errKicked)
	case errors.Is(rerr, io.EOF) && r.start < r.end:
		return errs.Because(errPeerClosed, fmt.Errorf("%w: %d bytes of an incomplete frame", io.ErrUnexpectedEOF, r.end-r.start))
	}
	return classify(rerr, r.timeout)
}

// handOver makes the frames (sub-slices of buf) the application's. A
// frame that fills most of a grown buffer takes the buffer itself (the
// rest moves to a new one); otherwise each MaxParts frames are copied into
// one block, each with its capacity cut to its length. Blocks of
// minPooled bytes or more come from internal/pool, and go back to it when
// the application has released every message in them (Message.Release).
func (r *reader) handOver() {
	o := &r.c.h.opts
	r.blocks = r.blocks[:0]
	if len(r.frames) == 1 && len(r.buf) > o.readSize && 2*len(r.frames[0]) >= len(r.buf) {
		f := r.frames[0]
		r.frames[0] = f[:len(f):len(f)]
		r.blocks = append(r.blocks, r.big)
		r.big = nil
		rest := r.end - r.start
		nb := r.takeSpare()
		if rest > len(nb) {
			nb = make([]byte, rest)
		}
		copy(nb, r.buf[r.start:r.end])
		r.buf, r.start, r.end = nb, 0, rest
		return
	}
	for g := 0; g < len(r.frames); g += pool.MaxParts {
		r.blocks = append(r.blocks, r.copyOut(r.frames[g:min(g+pool.MaxParts, len(r.frames))]))
	}
}

// copyOut copies frames into one block and points them at their copies;
// it returns the block's pooled buffer, if it is in one.
func (r *reader) copyOut(frames [][]byte) *pool.ReadBuf {
	if r.c.h.opts.sz != nil {
		// A built-in framing's frames are sub-slices of buf, in order,
		// with the capacity of buf[:r.end]: one copy of the region from
		// the first to the end of the last (headers between included).
		lo, last := r.end-cap(frames[0]), frames[len(frames)-1]
		block, b := newBlock(r.end - cap(last) + len(last) - lo)
		copy(block, r.buf[lo:])
		for i, f := range frames {
			at := r.end - cap(f) - lo
			frames[i] = block[at : at+len(f) : at+len(f)]
		}
		return b
	}
	total := 0
	for _, f := range frames {
		total += len(f)
	}
	block, b := newBlock(total)
	for i, f := range frames {
		n := copy(block, f)
		frames[i], block = block[:n:n], block[n:]
	}
	return b
}

// minPooled is the smallest block that comes from the pool: a smaller one
// is allocated to its size, which wastes less than a pool class would.
const minPooled = 256

// newBlock returns size bytes for frames to be copied into, and their
// pooled buffer, if they are in one.
func newBlock(size int) ([]byte, *pool.ReadBuf) {
	if size < minPooled {
		return make([]byte, size), nil
	}
	buf, b := pool.GetRead(size)
	return buf[:size], b
}

// dropBig gives buf's pooled buffer back, if it has one.
func (r *reader) dropBig() {
	if b := r.big; b != nil {
		r.big = nil
		b.Release(b.Tag(0, 1))
	}
}

// takeSpare returns the read-size buffer set aside while buf was grown, or a
// new one.
func (r *reader) takeSpare() []byte {
	if sp := r.spare; sp != nil {
		r.spare = nil
		return sp
	}
	return make([]byte, r.c.h.opts.readSize)
}

// message returns frame i as a Message.
func (r *reader) message(i int, now time.Time) Message {
	m := Message{Conn: r.c, Data: r.frames[i], Time: now}
	if b := r.blocks[i/pool.MaxParts]; b != nil {
		g := i / pool.MaxParts * pool.MaxParts
		m.buf, m.tag = b, b.Tag(i-g, min(pool.MaxParts, len(r.frames)-g))
	}
	return m
}

// deliver hands the frames to the Messages channel, in order (waiting for
// room: the backpressure). It returns false, counting the frames not
// delivered as discarded, if c is killed or the owner closes hard first.
func (r *reader) deliver(now time.Time) bool {
	defer clear(r.blocks) // (not to keep them from the garbage collector)
	c, n := r.c, 0
	if c.connSeq == 0 || c.waitConnect() {
		c.connSeq = 0 // received: no need to look again
		n = c.h.in.Deliver(&c.inbox, len(r.frames), func(i int) (Message, int) {
			m := r.message(i, now)
			return m, len(m.Data)
		}, c.ctx.Done())
	}
	if n < len(r.frames) {
		c.h.st.discarded.Add(uint64(len(r.frames) - n))
		return false
	}
	return true
}
