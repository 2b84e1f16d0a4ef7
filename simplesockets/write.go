package simplesockets

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/simplesockets/simplesockets-go/internal/bufpool"
)

// The write path. Send appends the encoded frame to the connection's queue
// (wbuf) and makes sure someone will write it:
//
//   - On a server's plain TCP or Unix connection, the server's one flusher
//     goroutine writes it with a non-blocking write, together with everything
//     queued meanwhile (one system call per connection and round, however
//     many messages). No goroutine per connection waits to write. While the
//     application is behind (Messages not empty), a reader that has just
//     handed messages over writes the queue instead, when it reads again:
//     see flusher.
//   - If the socket is full (the peer reads slowly), or the connection is TLS
//     or a client's, a writer goroutine of that connection takes over and
//     writes with blocking writes under WriteTimeout until the queue is
//     empty, then exits.
//
// All of it is under c.mu: at most one of flushing and writing is true, and
// queued says the connection waits in the flusher's queue. Lock order:
// c.mu before flusher.mu.

// send queues a copy of data (Send and Broadcast) and counts a failure in
// Stats.SendErrors.
func (c *Conn) send(data []byte) (err error) {
	defer func() {
		if err != nil {
			c.h.st.sendErrors.Add(1)
		}
	}()
	limit := c.h.opts.maxQueued
	c.mu.Lock()
	for {
		if c.sendErr != nil {
			err := c.sendErr
			c.mu.Unlock()
			return err
		}
		queued := len(c.wbuf) + c.inflight
		if limit < 0 || queued == 0 || queued+len(data) <= limit {
			break
		}
		switch c.h.opts.SendPolicy {
		case SendQueueFail:
			c.mu.Unlock()
			return fmt.Errorf("%w: %d bytes queued on %s", ErrSendQueueFull, queued, c)
		case SendQueueDisconnect:
			c.mu.Unlock()
			err := fmt.Errorf("%w: %d bytes queued", ErrSendQueueFull, queued)
			c.kill(err)
			return err
		}
		if c.raw != nil {
			c.h.fl.kick() // a reader in its window may be the one waiting
		}
		c.room.Wait()
	}
	n := len(c.wbuf)
	need := len(data) + 16
	if sz := c.h.opts.sz; sz != nil {
		need = sz.encodedLen(len(data))
	}
	if cap(c.wbuf)-n < need {
		nb := append(bufpool.Get(max(n+need, minWriteBuf)), c.wbuf...)
		bufpool.Put(c.wbuf)
		c.wbuf = nb
	}
	buf, err := c.h.opts.Framing.AppendFrame(c.wbuf, data)
	if err != nil {
		c.wbuf = buf[:n]
		c.mu.Unlock()
		return err
	}
	c.wbuf = buf
	c.queuedMsgs++
	switch {
	case !c.writing && !c.flushing && !c.queued:
		if c.raw != nil {
			c.queued = true
			c.h.fl.add(c)
		} else {
			c.startWriterLocked()
		}
	case c.queued && len(c.h.messages) == 0:
		// Queued earlier without a wake-up (add), for a reader in its
		// window to write; the application has now caught up, so this may
		// be the reply the peer waits for: see add.
		c.h.fl.kick()
	}
	c.mu.Unlock()
	return nil
}

// minWriteBuf is the smallest write buffer: room for a batch of small
// replies without growing it.
const minWriteBuf = 4 << 10

// startWriterLocked starts the connection's writer goroutine. c.mu must be
// held, and neither writing nor flushing be set.
func (c *Conn) startWriterLocked() {
	c.writing = true
	c.writers.Add(1)
	go c.writeLoop()
}

// writeLoop writes, with blocking writes, first what a partial flush left
// and then everything queued, one write per batch, and exits when the queue
// is empty. It is started by send, flush or finish, and awaited by finish.
// Written buffers go back to bufpool: they never left the package.
func (c *Conn) writeLoop() {
	defer c.writers.Done()
	wt := c.h.opts.WriteTimeout
	for {
		c.mu.Lock()
		if c.killed || c.rest == nil && len(c.wbuf) == 0 {
			if !c.wdeadline.IsZero() {
				// The flusher's non-blocking writes check the deadline too:
				// an expired one would fail them long after this writer.
				// This used to kill idle connections that had once lagged.
				_ = c.nc.SetWriteDeadline(time.Time{})
				c.wdeadline = time.Time{}
			}
			c.writing = false
			c.inflight = 0
			c.rest, c.restBuf = nil, nil
			c.room.Broadcast()
			c.mu.Unlock()
			return
		}
		var buf, whole []byte
		var msgs int
		if c.rest != nil {
			buf, whole, msgs = c.rest, c.restBuf, c.restMsgs
			c.rest, c.restBuf = nil, nil
		} else {
			buf, msgs = c.wbuf, c.queuedMsgs
			whole = buf
			c.wbuf, c.queuedMsgs = nil, 0
		}
		c.inflight = len(buf)
		c.mu.Unlock()

		if wt > 0 {
			// Refreshing the deadline costs a timer update; doing it at most
			// every wt/4 keeps every write's deadline within [3wt/4, wt].
			if now := time.Now(); now.Sub(c.wdeadline) > wt/4 {
				_ = c.nc.SetWriteDeadline(now.Add(wt))
				c.wdeadline = now
			}
		}
		n, err := c.nc.Write(buf)
		c.h.st.writes.Add(1)
		c.h.st.bytesOut.Add(uint64(n))
		bufpool.Put(whole)
		if err != nil {
			c.kill(classify(err, ErrWriteTimeout))
			continue // the loop sees killed and exits
		}
		c.h.st.msgsOut.Add(uint64(msgs))
		c.mu.Lock()
		c.inflight = 0
		c.room.Broadcast()
		c.mu.Unlock()
	}
}

// flush is the flusher's turn on one connection: one non-blocking write of
// everything queued. If the socket takes only part of it, the connection's
// writer goroutine takes over the rest.
func (c *Conn) flush() {
	c.mu.Lock()
	c.queued = false
	if c.writing || c.flushing || c.killed || len(c.wbuf) == 0 {
		c.mu.Unlock()
		return
	}
	buf, msgs := c.wbuf, c.queuedMsgs
	c.wbuf, c.queuedMsgs = nil, 0
	c.inflight = len(buf)
	c.flushing = true
	c.mu.Unlock()

	n, err := c.tryWrite(buf)
	c.h.st.writes.Add(1)
	c.h.st.bytesOut.Add(uint64(n))

	c.mu.Lock()
	c.flushing = false
	switch {
	case err != nil:
		c.inflight = 0
		c.room.Broadcast()
		c.mu.Unlock()
		bufpool.Put(buf)
		c.kill(classify(err, ErrWriteTimeout))
		return
	case n < len(buf):
		// The peer is not keeping up: a goroutine of its own waits for it.
		c.rest, c.restBuf, c.restMsgs = buf[n:], buf, msgs
		c.inflight = len(c.rest)
		c.startWriterLocked()
		buf = nil
	default:
		c.h.st.msgsOut.Add(uint64(msgs))
		c.inflight = 0
		if len(c.wbuf) > 0 {
			c.queued = true
			c.h.fl.add(c)
		}
	}
	c.room.Broadcast()
	c.mu.Unlock()
	if buf != nil {
		bufpool.Put(buf)
	}
}

// tryWrite writes buf with one non-blocking write(2) and returns how much
// the socket took (0 if it is full). Only flush calls it, with flushing
// set, so the fields it uses need no lock; writeFn is made once per connection, so that
// a write allocates nothing.
func (c *Conn) tryWrite(buf []byte) (int, error) {
	c.tw.buf = buf
	err := c.raw.Write(c.tw.fn)
	n, werr := c.tw.n, c.tw.err
	c.tw.buf, c.tw.err = nil, nil
	if n < 0 {
		n = 0
	}
	if werr == syscall.EAGAIN {
		werr = nil
	}
	if werr == nil {
		werr = err
	}
	return n, werr
}

// rawWrite is the state of tryWrite's callback.
type rawWrite struct {
	buf []byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

// flusher writes queued data for all plain connections of a server, so that
// no connection needs a goroutine of its own to write. It runs in the
// server's group and ends with the serving context.
//
// Readers help: between handing a read's messages to the application and
// reading again (a "window", see readLoop), a reader counts in active, and
// when it leaves the window it writes whatever is queued by then. While a
// reader is in its window and Messages holds more, add does not wake the
// flusher goroutine: that reader will drain the queue, so a batch of
// requests and their replies costs no wake-up of another goroutine. A
// reader that would block leaves its window first, a Send that waits for
// room wakes the flusher, and so does the Send that finds Messages empty
// (the application has caught up: nothing else may come to drain it).
type flusher struct {
	mu     sync.Mutex
	queue  []*Conn // connections with something to write, each at most once
	spare  []*Conn
	active int           // readers in their window
	wake   chan struct{} // capacity 1: "the queue is not empty"
}

func newFlusher() *flusher { return &flusher{wake: make(chan struct{}, 1)} }

// add queues c. The caller holds c.mu and has set c.queued.
func (f *flusher) add(c *Conn) {
	f.mu.Lock()
	f.queue = append(f.queue, c)
	// A reader in its window will write the queue when it leaves it; but
	// that reader has yielded and, on a saturated machine, may wait for a
	// time slice, so the flusher is woken anyway once the application has
	// taken every message: its Send of the last one, the reply a client
	// waits for, goes out at once.
	wake := f.active == 0 || len(c.h.messages) == 0
	f.mu.Unlock()
	if wake {
		f.kick()
	}
}

// kick wakes the flusher goroutine.
func (f *flusher) kick() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// enter is a reader entering its window.
func (f *flusher) enter() {
	f.mu.Lock()
	f.active++
	f.mu.Unlock()
}

// leave is a reader leaving its window: it writes what is queued.
func (f *flusher) leave() {
	f.mu.Lock()
	f.active--
	q := f.takeLocked()
	f.mu.Unlock()
	f.write(q)
}

// takeLocked takes the queue, leaving the spare slice in its place. f.mu
// is held.
func (f *flusher) takeLocked() []*Conn {
	q := f.queue
	f.queue, f.spare = f.spare, nil
	return q
}

// write flushes the connections of a taken queue and gives its slice back
// as the spare (unless another taker already did: then it is dropped). It
// reports whether there were any. The flusher and leaving readers may hold
// taken queues at the same time.
func (f *flusher) write(q []*Conn) bool {
	for i, c := range q {
		c.flush()
		q[i] = nil
	}
	f.mu.Lock()
	if f.spare == nil {
		f.spare = q[:0]
	}
	f.mu.Unlock()
	return len(q) > 0
}

func (f *flusher) run(ctx context.Context) error {
	for {
		select {
		case <-f.wake:
		case <-ctx.Done():
			return nil
		}
		for {
			f.mu.Lock()
			q := f.takeLocked()
			f.mu.Unlock()
			if !f.write(q) {
				break
			}
		}
	}
}
