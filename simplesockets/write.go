package simplesockets

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/simplesockets/simplesockets-go/internal/pool"
	"github.com/simplesockets/simplesockets-go/internal/sock"
)

// The write path. Send appends the encoded frame to the connection's queue
// (wq) under c.mu and wakes the connection's writer goroutine, the only
// writer of the socket. The writer takes everything queued at once, writes
// it in chunks of at most writeChunk bytes, and waits for the next kick
// when the queue is empty. It is started by the first Send and ends when
// the connection does (finish: after writing what is queued; kill: at
// once).
//
// Flow control (package doc): Send waits for room in waitRoomLocked, the
// reader in waitOutbound, both judging the writer's progress
// (internal/sock).

// writeChunk is the most bytes the writer hands the socket at once: Sends
// waiting for room see it after each chunk.
const writeChunk = 256 << 10

// send queues a copy of data.
func (c *Conn) send(data []byte) error {
	o := &c.h.opts
	c.mu.Lock()
	if err, cut := c.waitRoomLocked(len(data)); err != nil {
		c.mu.Unlock()
		if cut {
			c.closeHard()
		}
		return err
	}
	n := len(c.wq)
	need := len(data) + 16
	if o.sz != nil {
		need = o.sz.EncodedLen(len(data))
	}
	if cap(c.wq)-n < need {
		c.wq = pool.GrowWrite(c.wq, need, 2*o.MaxQueuedBytes)
	}
	buf, err := o.Framing.AppendFrame(c.wq, data)
	if err != nil {
		c.wq = buf[:n]
		c.mu.Unlock()
		return err
	}
	c.wq = buf
	c.wqMsgs++
	if o.MaxQueuedBytes > 0 && !c.over.Load() && c.overHalfLocked() {
		c.over.Store(true) // the reader holds off (waitOutbound)
	}
	wake := c.writerIdle
	c.writerIdle = false
	if !c.writerOn {
		c.writerOn = true
		c.kick = make(chan struct{}, 1)
		c.wdone = make(chan struct{})
		c.h.spawn(c.writeLoop)
	}
	c.mu.Unlock()
	if wake {
		c.kickWriter()
	}
	return nil
}

// kickWriter wakes the writer if it waits for a kick.
func (c *Conn) kickWriter() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// waitRoomLocked waits until n more bytes fit in the queue, as the
// SendPolicy says, and returns the error Send returns instead; cut says
// that it has killed the connection, whose socket the caller must close
// after releasing c.mu. c.mu must be held; Wait releases it meanwhile.
func (c *Conn) waitRoomLocked(n int) (err error, cut bool) {
	o := &c.h.opts
	for {
		if c.sendErr != nil {
			return c.sendErr, false
		}
		queued := len(c.wq) + c.inflight
		if o.MaxQueuedBytes < 0 || queued == 0 || queued+n <= o.MaxQueuedBytes {
			return nil, false
		}
		if o.SendPolicy != SendQueueBlock && c.full.Load() && queued+n <= 2*o.MaxQueuedBytes {
			// The socket is full and the peer is being judged, while its
			// reader holds off (waitOutbound): queue without waiting.
			return nil, false
		}
		if err := c.awaitRoomLocked(queued); err != nil {
			return err, true
		}
	}
}

// noteFull is called by the writer when the socket takes nothing more: it
// marks the socket full and notes its send queue (Writer.StalledFor).
func (c *Conn) noteFull() {
	if !c.full.Load() {
		c.full.Store(true)
		c.broadcastRoom() // a Send waiting for room may now queue without waiting
	}
	c.pc.NoteFull()
}

// overHalfLocked reports whether the send queue holds half of
// MaxQueuedBytes or more (2*queued, not Max/2: a limit of 1 must not make
// an empty queue look full). c.mu must be held.
func (c *Conn) overHalfLocked() bool {
	return 2*(len(c.wq)+c.inflight) >= c.h.opts.MaxQueuedBytes
}

// waitOutbound holds the reader while the connection's send queue holds
// half of MaxQueuedBytes or more (c.over tells it without the lock): a
// peer that does not read what it is sent has its next requests left
// unread too, so the application is not handed messages whose replies
// could only pile up. Under SendQueueDisconnect a slow consumer is judged
// here too (awaitRoomLocked). It returns the error that ends the read loop.
func (c *Conn) waitOutbound() error {
	c.mu.Lock() // (c.over is set only with a positive MaxQueuedBytes)
	for c.overHalfLocked() && c.sendErr == nil && !c.draining.Load() {
		if err := c.awaitRoomLocked(len(c.wq) + c.inflight); err != nil {
			c.mu.Unlock()
			c.closeHard() // unblocks the writer
			return err
		}
	}
	c.mu.Unlock()
	return nil
}

// awaitRoomLocked waits on room until it is signalled (the queue shrank,
// the connection ends) or, under SendQueueDisconnect, until the writer
// will have moved nothing for StallTimeout, when the caller looks again.
// If it has already, the peer is a slow consumer: awaitRoomLocked kills
// the connection and returns the reason; the caller closes the socket once
// c.mu is released. c.mu must be held; Wait releases it meanwhile.
func (c *Conn) awaitRoomLocked(queued int) error {
	o := &c.h.opts
	if o.SendPolicy == SendQueueDisconnect {
		idle := c.pc.StalledFor() // (under c.mu: one caller at a time)
		if idle >= o.StallTimeout {
			err := fmt.Errorf("%w: %d bytes queued, none written for %v", ErrSlowConsumer, queued, idle.Round(time.Millisecond))
			c.h.st.slowConsumers.Add(1)
			c.killLocked(err)
			return err
		}
		defer time.AfterFunc(o.StallTimeout-idle, c.broadcastRoom).Stop()
	}
	c.waiters++
	c.room.Wait()
	c.waiters--
	return nil
}

func (c *Conn) broadcastRoom() {
	c.mu.Lock()
	c.room.Broadcast()
	c.mu.Unlock()
}

// writeLoop is the connection's writer goroutine.
func (c *Conn) writeLoop() {
	defer close(c.wdone)
	// The owner's stop wakes the writer through its kick: one channel to
	// wait on, not a select (measured: S3 CPU per message, BENCHMARKS.md).
	defer context.AfterFunc(c.ctx, c.kickWriter)()
	var spare []byte // the buffer written last, reused for the queue
	for {
		c.mu.Lock()
		for len(c.wq) == 0 && !c.killed && !c.wstop {
			spare, c.wq = pool.PutWrite(spare), pool.PutWrite(c.wq) // idle: large buffers go back
			c.writerIdle = true
			c.mu.Unlock()
			<-c.kick
			c.mu.Lock()
			c.writerIdle = false
			if c.ctx.Err() != nil && len(c.wq) == 0 {
				break
			}
		}
		if c.killed || len(c.wq) == 0 {
			c.mu.Unlock()
			return // killed, or stopping with nothing left to write
		}
		buf, msgs := c.wq, c.wqMsgs
		c.wq, c.wqMsgs = spare[:0], 0
		c.inflight = len(buf)
		c.mu.Unlock()

		if err := c.writeAll(buf); err != nil {
			c.kill(classify(err, ErrWriteTimeout))
			return
		}
		c.h.st.msgsOut.Add(uint64(msgs))
		spare = buf
	}
}

// writeAll writes buf in chunks of at most writeChunk bytes, making room
// for waiting Sends after each; progress within a chunk is recorded by the
// socket's sock.Writer.
func (c *Conn) writeAll(buf []byte) error {
	var w io.Writer = c.nc // TLS: tls.Conn writes its records to the sock.Writer
	if c.plain {
		w = c.pc
	}
	for off := 0; off < len(buf); {
		chunk := buf[off:min(len(buf), off+writeChunk)]
		c.progress(time.Now()) // the write begins: nothing moved yet, but nothing is late
		if !sock.RawWrites {
			c.full.Store(true) // (no EAGAIN to tell: any write may be a full socket)
		}
		n, err := w.Write(chunk)
		c.pc.Idle()
		if c.full.Load() {
			c.full.Store(false)
		}
		off += n
		c.h.st.writes.Add(1)
		c.h.st.bytesOut.Add(uint64(n))
		c.mu.Lock()
		c.inflight -= n
		if c.over.Load() && !c.overHalfLocked() {
			c.over.Store(false)
		}
		if c.waiters > 0 {
			c.room.Broadcast()
		}
		c.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// waitWriter waits for the writer goroutine, if it was started, to end;
// finish has set wstop (or kill killed) so that it does.
func (c *Conn) waitWriter() {
	c.mu.Lock()
	on := c.writerOn
	c.mu.Unlock()
	if on {
		c.kickWriter()
		<-c.wdone
	}
}

// progress records that the writer's write moved bytes at now, and moves
// the write deadline on (at most every quarter of WriteTimeout: a timer
// update costs). Only the goroutine writing calls it.
func (c *Conn) progress(now time.Time) {
	c.pc.Busy(now)
	if wt := c.h.opts.WriteTimeout; wt > 0 && now.UnixNano()-c.deadlineSet.Load() > int64(wt/4) {
		_ = c.nc.SetWriteDeadline(now.Add(wt)) // a failure shows in the write
		c.deadlineSet.Store(now.UnixNano())
	}
}
