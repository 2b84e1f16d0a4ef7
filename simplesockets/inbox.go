package simplesockets

import (
	"sync"
	"time"

	"github.com/simplesockets/simplesockets-go/internal/ring"
)

// inbox is the Messages channel of a Server or Client, with the bytes it
// holds counted per connection and in total, so that inbound memory is
// bounded in bytes and one flooding connection cannot take the channel from
// the others.
//
// A receive from a buffered channel cannot be observed, but its count can:
// the channel is FIFO and every send happens while holding send (a
// one-slot channel used as a lock that a select can give up on), so if it
// holds k messages they are the k sent last, and every older one has been
// received. ring mirrors the channel's messages oldest first;
// reclaimLocked pops those received and gives their bytes back. The reader
// goroutines are the only senders.
type inbox struct {
	ch      chan Message
	perConn int // bytes one connection may have in ch (one larger message alone)
	total   int // bytes all connections may have in ch (one larger message alone)
	h       *hub
	send    chan struct{} // held (full) by the reader that is sending

	mu    sync.Mutex            // guards what follows; never held across a blocking send
	ring  ring.Ring[pendingMsg] // the messages not known to be received
	bytes int
	freed chan struct{} // closed (and replaced) when bytes are given back while someone waits
	waits int           // readers waiting for room
}

type pendingMsg struct {
	c    *Conn
	size int
}

func newInbox(capacity, perConn, total int, h *hub) *inbox {
	return &inbox{
		ch:      make(chan Message, capacity),
		ring:    ring.New[pendingMsg](capacity + 1),
		send:    make(chan struct{}, 1),
		perConn: perConn,
		total:   total,
		h:       h,
		freed:   make(chan struct{}),
	}
}

// reclaimLocked forgets the messages that have been received, given that
// the channel holds inCh of the ring's messages. mu must be held.
func (b *inbox) reclaimLocked(inCh int) {
	released := false
	for b.ring.Len() > max(inCh, 0) {
		e := b.ring.Pop()
		e.c.pending -= e.size
		e.c.inCh--
		b.bytes -= e.size
		released = true
	}
	if released && b.waits > 0 {
		close(b.freed)
		b.freed = make(chan struct{})
	}
}

func (b *inbox) pushLocked(c *Conn, size int) {
	if b.ring.Full() {
		b.reclaimLocked(len(b.ch) - 1) // the channel holds the message being pushed
	}
	b.ring.Push(pendingMsg{c: c, size: size})
	c.pending += size
	c.inCh++
	b.bytes += size
}

// fitsLocked reports whether a message of size bytes from c may go into
// the channel now. mu must be held.
func (b *inbox) fitsLocked(c *Conn, size int) bool {
	return (c.pending == 0 || c.pending+size <= b.perConn) &&
		(b.bytes == 0 || b.bytes+size <= b.total)
}

// deliver sends r's frames on the channel in order, waiting while the
// channel is full or c (or everyone) holds as many bytes as allowed: the
// reader does not read meanwhile, which is the backpressure. It returns
// false, counting the frames not delivered as discarded, if c is killed or
// the owner closes hard first.
func (b *inbox) deliver(r *reader, now time.Time) bool {
	c, frames := r.c, len(r.frames)
	var delay time.Duration
	for i := 0; i < frames; {
		select {
		case b.send <- struct{}{}:
		default:
			select {
			case b.send <- struct{}{}:
			case <-c.ctx.Done():
				return b.discard(frames, i)
			case <-b.h.hard:
				return b.discard(frames, i)
			}
		}
		b.mu.Lock()
		b.reclaimLocked(len(b.ch))
		from := i
		for i < frames {
			m := r.message(i, now)
			if !b.fitsLocked(c, len(m.Data)) {
				break
			}
			select {
			case b.ch <- m:
			default:
				// Full: wait for the application, still holding send.
				b.mu.Unlock()
				select {
				case b.ch <- m:
				case <-c.ctx.Done():
					<-b.send
					return b.discard(frames, i)
				case <-b.h.hard:
					<-b.send
					return b.discard(frames, i)
				}
				b.mu.Lock()
			}
			b.pushLocked(c, len(m.Data))
			i++
		}
		b.h.st.msgsIn.Add(uint64(i - from))
		done := i == frames
		freed := b.freed
		if !done {
			b.waits++
		}
		b.mu.Unlock()
		<-b.send
		if done {
			return true
		}
		// Over c's share or the total: wait until the application has
		// received some. Another reader's delivery may see it first (freed);
		// otherwise only polling does.
		delay = min(max(2*delay, 50*time.Microsecond), 5*time.Millisecond)
		sleep(delay, freed, c.ctx.Done(), b.h.hard)
		b.mu.Lock()
		b.waits--
		b.mu.Unlock()
		if c.ctx.Err() != nil || b.isHard() {
			return b.discard(frames, i)
		}
	}
	return true
}

func (b *inbox) discard(frames, delivered int) bool {
	b.h.st.discarded.Add(uint64(frames - delivered))
	return false
}

func (b *inbox) isHard() bool {
	select {
	case <-b.h.hard:
		return true
	default:
		return false
	}
}

// pendingBytes returns the bytes of messages in the channel.
func (b *inbox) pendingBytes() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reclaimLocked(len(b.ch))
	return b.bytes
}

// close closes the channel. The owner calls it once no reader runs.
func (b *inbox) close() {
	b.mu.Lock()
	close(b.ch)
	b.mu.Unlock()
}
