package simplesockets

import (
	"fmt"
	"io"
	"time"

	"github.com/simplesockets/simplesockets-go/internal/pool"
	"github.com/simplesockets/simplesockets-go/internal/sock"
)

// The write path. Send appends the encoded frame to the connection's queue
// (wq) under c.mu and wakes the connection's writer goroutine, the only
// writer of the socket. The writer takes everything queued at once (so
// several messages go out in one write, however many arrived meanwhile),
// writes it in chunks of at most writeChunk bytes, and waits for the next
// kick when the queue is empty. It is started by the first Send and ends
// when the connection does (finish: after writing what is queued; kill: at
// once).
//
// Flow control (Send, waitRoomLocked): Send waits for room when the queue
// holds MaxQueuedBytes. Under SendQueueBlock it waits until there is room;
// under the other policies only while the socket accepts bytes: when the
// writer's current write has moved nothing for StallTimeout, the peer is
// not reading, and Send cuts it off (SendQueueDisconnect,
// ErrSlowConsumer). While the socket is full, Send
// queues up to twice the limit without waiting, and a connection whose
// queue holds half the limit stops reading (waitOutbound), so a peer that
// does not read its replies sends the application nothing more, and the
// application's replies to what it did send fit in the queue. Progress is recorded after every
// system call that moves bytes (internal/sock).

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
		c.wq = pool.GrowWrite(c.wq, need, 2*o.maxQueued)
	}
	buf, err := o.Framing.AppendFrame(c.wq, data)
	if err != nil {
		c.wq = buf[:n]
		c.mu.Unlock()
		return err
	}
	c.wq = buf
	c.wqMsgs++
	if o.maxQueued > 0 && !c.over.Load() && len(c.wq)+c.inflight >= o.maxQueued/2 {
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
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
	return nil
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
		if o.maxQueued < 0 || queued == 0 || queued+n <= o.maxQueued {
			return nil, false
		}
		if o.policy != SendQueueBlock && c.full.Load() && queued+n <= 2*o.maxQueued {
			// The socket is full: whether its peer reads slowly or not at
			// all is being judged, and its reader stops reading from half
			// the limit (waitOutbound), so what the application still
			// sends it meanwhile is bounded; queue it without waiting, up
			// to twice the limit.
			return nil, false
		}
		var limit time.Duration // 0: until woken
		if o.policy != SendQueueBlock {
			idle := c.stalledForLocked()
			if idle >= o.StallTimeout {
				return c.slowConsumerLocked(queued, idle), true
			}
			limit = o.StallTimeout - idle
		}
		c.waitRoomLockedFor(limit)
	}
}

// stalledForLocked returns how long the writer's current write has moved
// nothing, 0 if it is not writing. Where the system tells how many bytes
// wait in the socket's send queue (Linux), a queue that shrank since the
// writer found the socket full is progress too: the peer is reading, and
// the kernel lets the writer in again only once a good part of the buffer
// is free, which can take longer than StallTimeout for a peer that reads
// slowly but steadily. c.mu must be held.
func (c *Conn) stalledForLocked() time.Duration {
	since := c.busySince.Load()
	if since == 0 {
		return 0
	}
	if c.stallStamp.Load() == since {
		if q, ok := c.pc.Outq(); ok && q < int(c.stallOutq.Load()) {
			now := time.Now().UnixNano()
			if c.busySince.CompareAndSwap(since, now) {
				c.stallOutq.Store(int64(q))
				c.stallStamp.Store(now)
			}
			return 0
		}
	}
	return time.Since(time.Unix(0, since))
}

// noteFull is called by the writer when the socket takes nothing more:
// it marks the socket full (waking Sends that wait for room, see
// waitRoomLocked) and, once per stall, notes the socket's send queue
// (stalledForLocked).
func (c *Conn) noteFull() {
	if !c.full.Load() {
		c.full.Store(true)
		c.broadcastRoom() // a Send waiting for room may now queue without waiting
	}
	since := c.busySince.Load()
	if c.stallStamp.Load() == since {
		return
	}
	if q, ok := c.pc.Outq(); ok {
		c.stallOutq.Store(int64(q))
		c.stallStamp.Store(since)
	}
}

// waitOutbound holds the reader while the connection's send queue holds
// half of MaxQueuedBytes or more (over tells it without the lock): a peer that does not read what it is sent
// has its next requests left unread too (TCP backpressure end to end), so
// the application is not handed messages whose replies could only pile up.
// If the socket accepts nothing for StallTimeout meanwhile, the peer is a
// slow consumer, judged here rather than in the application's Send (under
// SendQueueDisconnect; the other policies leave it to Send and
// WriteTimeout). It returns the error that ends the read loop.
func (c *Conn) waitOutbound() (err error) {
	o := &c.h.opts
	if o.maxQueued < 0 {
		return nil
	}
	c.mu.Lock()
	defer func() {
		c.mu.Unlock()
		if err != nil {
			c.closeHard() // unblocks the writer
		}
	}()
	for len(c.wq)+c.inflight >= o.maxQueued/2 && c.sendErr == nil && !c.draining.Load() {
		var limit time.Duration // 0: until woken
		if o.policy == SendQueueDisconnect {
			idle := c.stalledForLocked()
			if idle >= o.StallTimeout {
				return c.slowConsumerLocked(len(c.wq)+c.inflight, idle)
			}
			limit = o.StallTimeout - idle
		}
		c.waitRoomLockedFor(limit)
	}
	return nil
}

// waitRoomLockedFor waits on room until it is signalled (the queue shrank,
// the connection ends) or, if limit is positive, limit has passed, when the
// caller looks at the writer's progress again. c.mu must be held.
func (c *Conn) waitRoomLockedFor(limit time.Duration) {
	if limit > 0 {
		defer time.AfterFunc(limit, c.broadcastRoom).Stop()
	}
	c.waiters++
	c.room.Wait()
	c.waiters--
}

// slowConsumerLocked ends the connection as a slow consumer and returns
// the reason; the caller closes the socket once c.mu is released.
func (c *Conn) slowConsumerLocked(queued int, idle time.Duration) error {
	err := fmt.Errorf("%w: %d bytes queued, none written for %v", ErrSlowConsumer, queued, idle.Round(time.Millisecond))
	c.h.st.slowConsumers.Add(1)
	c.killLocked(err)
	return err
}

func (c *Conn) broadcastRoom() {
	c.mu.Lock()
	c.room.Broadcast()
	c.mu.Unlock()
}

// writeLoop is the connection's writer goroutine.
func (c *Conn) writeLoop() {
	defer close(c.wdone)
	var spare []byte // the buffer written last, reused for the queue
	for {
		c.mu.Lock()
		for len(c.wq) == 0 && !c.killed && !c.wstop {
			if cap(spare) > pool.KeepWrite {
				pool.PutWrite(spare)
				spare = nil
			}
			if cap(c.wq) > pool.KeepWrite {
				pool.PutWrite(c.wq)
				c.wq = nil
			}
			c.writerIdle = true
			c.mu.Unlock()
			select {
			case <-c.kick:
			case <-c.ctx.Done():
			}
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
		c.busySince.Store(0)
		if c.full.Load() {
			c.full.Store(false)
		}
		off += n
		c.h.st.writes.Add(1)
		c.h.st.bytesOut.Add(uint64(n))
		c.mu.Lock()
		c.inflight -= n
		if c.over.Load() && len(c.wq)+c.inflight < c.h.opts.maxQueued/2 {
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
	if !on {
		return
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
	<-c.wdone
}
