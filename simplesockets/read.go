package simplesockets

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"
	"unsafe"

	"github.com/simplesockets/simplesockets-go/internal/bufpool"
)

// The read path. A connection's goroutine reads into buf, splits frames with
// the Framing and delivers them on Messages (or to OnMessage).
//
// Tried and dropped: reading inside one long RawConn.Read and, after a short
// read, waiting for the poller instead of issuing the read that returns
// EAGAIN. A short read does not mean the next read would block: a FIN that
// arrived with the data makes it return EOF, and its readiness notification
// may have been consumed already, so the connection hung (FuzzServerInput
// and TestOnlyMessagesReader caught it).

// reader is the state of one connection's read loop.
type reader struct {
	c            *Conn
	buf          []byte
	spare        []byte // the read-size buffer set aside while buf is grown for a large frame
	sparePooled  bool   // spare is from bufpool
	takenPooled  bool   // what takeSpare returned last is from bufpool
	inWindow     bool   // counted in the flusher's active readers
	pooled       bool   // buf is from bufpool and no frame handed out points into it
	start, end   int    // buf[start:end] is received and not yet consumed
	frames       [][]byte
	frameStarted time.Time // when the pending partial frame began
	need         int       // size of the pending frame, if the framing knows it
	partial      bool      // a frame had begun before the current read
	sz           sizer
	result       error // why the loop ended

	// rawRead's state (connections with a RawConn only).
	readFn func(fd uintptr) bool // readOnce, made once
	rn     int                   // what the read(2) returned
	rerr   error
	rspace int // the room it had
}

// readLoop reads, splits frames and delivers them until the connection
// ends, and returns why. pending is an error firstWait met, to be handled
// as if the first read had returned it.
func (c *Conn) readLoop(pending error) error {
	r := &reader{c: c, sz: c.h.opts.sz}
	if c.raw != nil {
		r.readFn = r.readOnce // takes its buffer when data arrives
	} else {
		r.buf = make([]byte, c.h.opts.readSize)
	}
	if pending != nil {
		if r.prepare() {
			r.process(0, pending)
		}
		return r.result
	}
	for r.prepare() {
		var n, space int
		var err error
		if r.readFn != nil {
			n, space, err = r.rawRead()
		} else {
			space = len(r.buf) - r.end
			n, err = c.nc.Read(r.buf[r.end:])
		}
		c.h.st.reads.Add(1)
		if r.process(n, err) {
			break
		}
		if len(r.frames) > 0 && n < space { // process delivered frames
			// The socket had no more: let the application take the
			// messages (and queue replies) before reading again, which
			// would often find nothing yet, an EAGAIN and a park that cost
			// more than this yield. (After a full read, more is likely
			// waiting: a large frame's rest, a pipelined batch.)
			runtime.Gosched()
		}
		r.leaveWindow()
	}
	r.leaveWindow()
	return r.result
}

// prepare makes room in buf and sets the read deadline for the next read.
// It returns false, with the loop's result set, if the loop must end.
func (r *reader) prepare() bool {
	c, o := r.c, &r.c.h.opts
	// A nil buf was released while waiting (rawRead): nothing is pending,
	// and the next read takes a buffer.
	if r.buf != nil && (r.need > len(r.buf)-r.start || r.end == len(r.buf)) {
		// Make room: for the announced frame if the framing said how big
		// it is, else double (up to the framing's limit).
		size := max(r.need, o.readSize)
		if r.need == 0 && r.start == 0 {
			if len(r.buf) >= o.maxFrame {
				return r.stop(fmt.Errorf("%w: more than %d bytes without a complete frame", ErrMessageTooLarge, o.maxFrame))
			}
			size = min(2*len(r.buf), o.maxFrame)
		}
		if size > len(r.buf) {
			var nb []byte
			if o.KeepData {
				nb = make([]byte, size)
			} else {
				nb = bufpool.Get(size)[:size] // see recycle.go
			}
			r.end = copy(nb, r.buf[r.start:r.end])
			switch {
			case len(r.buf) == o.readSize:
				r.spare, r.sparePooled = r.buf, r.pooled // never handed out: reused once the large frame is
			case r.pooled:
				bufpool.Put(r.buf) // outgrown, and nothing handed out points into it
			}
			r.buf, r.start, r.pooled = nb, 0, !o.KeepData
		} else if r.start > 0 {
			r.end = copy(r.buf, r.buf[r.start:r.end])
			r.start = 0
		}
	}
	r.partial = r.end > r.start
	if err := c.setReadDeadline(r.partial, r.frameStarted); err != nil {
		return r.stop(classify(err, ErrReadTimeout))
	}
	if c.draining.Load() {
		return r.stop(c.setReason(ErrKicked))
	}
	if c.ctx.Err() != nil { // killed, or the owner is closing
		return r.stop(c.setReason(c.h.closeReason))
	}
	return true
}

// takeSpare returns a read buffer of at least the read size and n bytes:
// the spare one if it is big enough, else a new one, from bufpool if its
// size is exactly a class's (no hidden capacity for a handed-over buffer to
// keep alive) and KeepData is not set. takenPooled says whether it is from
// bufpool.
func (r *reader) takeSpare(n int) []byte {
	if sp := r.spare; sp != nil && len(sp) >= n {
		r.spare = nil
		r.takenPooled = r.sparePooled
		return sp
	}
	size := max(r.c.h.opts.readSize, n)
	if r.c.h.opts.KeepData || !bufpool.IsClass(size) {
		r.takenPooled = false
		return make([]byte, size)
	}
	r.takenPooled = true
	return bufpool.Get(size)[:size]
}

// enterWindow and leaveWindow bracket the time from handing a read's
// messages over to the next read, during which the reader writes the
// replies queued meanwhile (flusher). Only the readers of connections the
// flusher writes (a server's plain ones, c.raw set) have a window.
func (r *reader) enterWindow() {
	if r.c.raw != nil && !r.inWindow { // c.raw is only set where there is a flusher
		r.inWindow = true
		r.c.h.fl.enter()
	}
}

func (r *reader) leaveWindow() {
	if r.inWindow {
		r.inWindow = false
		r.c.h.fl.leave()
	}
}

func (r *reader) stop(err error) bool {
	r.result = err
	return false
}

// process handles n bytes read and the read's error: it splits and delivers
// the complete frames. It returns true, with the loop's result set, if the
// loop must end.
func (r *reader) process(n int, rerr error) bool {
	c, o := r.c, &r.c.h.opts
	var now time.Time // when this read returned data: the messages' Time
	if n > 0 {
		now = time.Now()
		c.h.st.bytesIn.Add(uint64(n))
		if !r.partial {
			r.frameStarted = now
		}
	}
	r.end += n
	first := r.start
	r.frames = r.frames[:0]
	r.need = 0
	var ferr error
	for r.start < r.end {
		adv, f, err := o.Framing.Split(r.buf[r.start:r.end:r.end]) // a pooled buffer's other bytes stay hidden
		if err != nil {
			ferr = err
			break
		}
		if adv <= 0 {
			if r.sz != nil {
				r.need = r.sz.frameLen(r.buf[r.start:r.end])
			}
			break
		}
		if adv > r.end-r.start {
			ferr = fmt.Errorf("%w: framing consumed %d of %d bytes", ErrInvalidMessage, adv, r.end-r.start)
			break
		}
		r.frames = append(r.frames, f[:len(f):len(f)])
		r.start += adv
	}
	if len(r.frames) > 0 {
		old := r.buf
		r.buf, r.start, r.end = handOver(r.buf, first, r.start, r.end, r.frames, r.takeSpare)
		if unsafe.SliceData(r.buf) != unsafe.SliceData(old) {
			// The frames point into old, which is theirs now. One large
			// frame alone in a pooled one may come back through Send
			// (recycle.go; only frames bigger than the read size).
			if r.pooled && len(r.frames) == 1 && len(old) > o.readSize {
				lent.lend(r.frames[0], old, c)
			}
			r.pooled = r.takenPooled
		}
		if now.IsZero() {
			now = time.Now()
		}
		if o.OnMessage == nil { // a hook may block: no window then
			r.enterWindow()
		}
		if !c.deliver(r.frames, now, r) {
			r.stop(c.setReason(c.h.closeReason))
			return true
		}
	}
	if r.start == r.end {
		r.start, r.end = 0, 0
		if len(r.buf) > o.readSize {
			if r.pooled {
				bufpool.Put(r.buf) // the frames in it were copied out
			}
			r.buf = r.takeSpare(0) // shrink back after a large frame
			r.pooled = r.takenPooled
		}
	} else if r.start > first {
		r.frameStarted = now // a new partial frame began in this read
	}
	if ferr != nil {
		if !errors.Is(ferr, ErrMessageTooLarge) && !errors.Is(ferr, ErrInvalidMessage) {
			ferr = because(ErrInvalidMessage, ferr)
		}
		r.stop(ferr)
		return true
	}
	if rerr == nil {
		return false
	}
	switch {
	case c.draining.Load() && errors.Is(rerr, os.ErrDeadlineExceeded):
		r.stop(c.setReason(ErrKicked))
	case errors.Is(rerr, io.EOF) && r.start < r.end:
		r.stop(because(ErrPeerClosed, fmt.Errorf("%w: %d bytes of an incomplete frame", io.ErrUnexpectedEOF, r.end-r.start)))
	case r.partial:
		r.stop(classify(rerr, ErrReadTimeout))
	default:
		r.stop(classify(rerr, ErrIdleTimeout))
	}
	return true
}

// setReadDeadline sets the deadline of the next read: ReadTimeout from the
// start of a partial frame, else IdleTimeout from now (if configured).
func (c *Conn) setReadDeadline(partial bool, frameStarted time.Time) error {
	o := &c.h.opts
	switch {
	case partial && o.ReadTimeout > 0:
		return c.nc.SetReadDeadline(frameStarted.Add(o.ReadTimeout))
	case o.IdleTimeout > 0:
		return c.nc.SetReadDeadline(time.Now().Add(o.IdleTimeout))
	}
	return nil
}
