// Package inbox is the Messages channel of package simplesockets, with the
// bytes it holds counted per source (a connection) and in total, so that
// inbound memory is bounded in bytes and one flooding source cannot take
// the channel from the others.
//
// A receive from a buffered channel cannot be observed, but its count can:
// the channel is FIFO and every send happens while holding send (a
// one-slot channel used as a lock that a select can give up on), so if it
// holds k messages they are the k sent last, and every older one has been
// received. ring mirrors the channel's messages oldest first;
// reclaimLocked pops those received and gives their bytes back. Deliver
// is the only sender.
package inbox

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/simplesockets/simplesockets-go/internal/ring"
)

// Source is one source's share of an Inbox. The zero value is ready; its
// fields are guarded by the Inbox's lock.
type Source struct {
	pending int // bytes of its messages in the channel
	held    int // and how many they are
}

// Inbox is the channel C, which sources send on with Deliver and the
// application receives from, and its bookkeeping. Its methods are safe for
// concurrent use, but a Source delivers from one goroutine at a time.
type Inbox[M any] struct {
	C      chan M
	perSrc int             // bytes one source may have in C (one larger message alone)
	total  int             // bytes all sources may have in C (one larger message alone)
	hard   <-chan struct{} // closed when the owner closes hard: Deliver gives up
	sent   *atomic.Uint64  // counts the messages sent on C
	send   chan struct{}   // held (full) by the Deliver that is sending

	mu    sync.Mutex         // guards what follows; never held across a blocking send
	ring  ring.Ring[pending] // the messages not known to be received
	bytes int
	freed chan struct{} // closed (and replaced) when bytes are given back while someone waits
	waits int           // Delivers waiting for room
}

type pending struct {
	src  *Source
	size int
}

// New returns an Inbox whose channel holds capacity messages, of which
// perSource bytes from one source and total bytes from all (one larger
// message is let in alone). Deliver gives up once hard is closed, and
// counts the messages it sends in sent.
func New[M any](capacity, perSource, total int, hard <-chan struct{}, sent *atomic.Uint64) *Inbox[M] {
	return &Inbox[M]{
		C:      make(chan M, capacity),
		ring:   ring.New[pending](capacity + 1),
		send:   make(chan struct{}, 1),
		perSrc: perSource,
		total:  total,
		hard:   hard,
		sent:   sent,
		freed:  make(chan struct{}),
	}
}

// reclaimLocked forgets the messages that have been received, given that
// the channel holds inCh of the ring's messages. mu must be held.
func (b *Inbox[M]) reclaimLocked(inCh int) {
	released := false
	for b.ring.Len() > max(inCh, 0) {
		e := b.ring.Pop()
		e.src.pending -= e.size
		e.src.held--
		b.bytes -= e.size
		released = true
	}
	if released && b.waits > 0 {
		close(b.freed)
		b.freed = make(chan struct{})
	}
}

func (b *Inbox[M]) pushLocked(src *Source, size int) {
	if b.ring.Full() {
		b.reclaimLocked(len(b.C) - 1) // the channel holds the message being pushed
	}
	b.ring.Push(pending{src: src, size: size})
	src.pending += size
	src.held++
	b.bytes += size
}

// fitsLocked reports whether a message of size bytes from src may go into
// the channel now. mu must be held.
func (b *Inbox[M]) fitsLocked(src *Source, size int) bool {
	return (src.pending == 0 || src.pending+size <= b.perSrc) &&
		(b.bytes == 0 || b.bytes+size <= b.total)
}

// Deliver sends n messages of src on C in order (msg returns the i-th and
// its size in bytes), waiting while C is full or src (or everyone) holds
// as many bytes as allowed: the source does not read meanwhile, which is
// the backpressure. It returns how many it sent: fewer than n if stop or
// hard is closed first.
func (b *Inbox[M]) Deliver(src *Source, n int, msg func(i int) (M, int), stop <-chan struct{}) int {
	var delay time.Duration
	for i := 0; i < n; {
		select {
		case b.send <- struct{}{}:
		default:
			select {
			case b.send <- struct{}{}:
			case <-stop:
				return i
			case <-b.hard:
				return i
			}
		}
		b.mu.Lock()
		b.reclaimLocked(len(b.C))
		from := i
		for i < n {
			m, size := msg(i)
			if !b.fitsLocked(src, size) {
				break
			}
			select {
			case b.C <- m:
			default:
				// Full: wait for the application, still holding send.
				b.mu.Unlock()
				select {
				case b.C <- m:
				case <-stop:
					b.sent.Add(uint64(i - from)) // those of this batch that went out count
					<-b.send
					return i
				case <-b.hard:
					b.sent.Add(uint64(i - from))
					<-b.send
					return i
				}
				b.mu.Lock()
			}
			b.pushLocked(src, size)
			i++
		}
		b.sent.Add(uint64(i - from))
		done := i == n
		freed := b.freed
		if !done {
			b.waits++
		}
		b.mu.Unlock()
		<-b.send
		if done {
			return n
		}
		// Over src's share or the total: wait until the application has
		// received some. Another Deliver may see it first (freed);
		// otherwise only polling does.
		delay = min(max(2*delay, 50*time.Microsecond), 5*time.Millisecond)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-freed:
		case <-stop:
		case <-b.hard:
		}
		t.Stop()
		b.mu.Lock()
		b.waits--
		b.mu.Unlock()
		select {
		case <-stop:
			return i
		case <-b.hard:
			return i
		default:
		}
	}
	return n
}

// Held returns how many of src's messages C holds.
func (b *Inbox[M]) Held(src *Source) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reclaimLocked(len(b.C))
	return src.held
}

// Bytes returns the bytes of the messages C holds.
func (b *Inbox[M]) Bytes() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reclaimLocked(len(b.C))
	return b.bytes
}

// Close closes C. The owner calls it once no Deliver runs.
func (b *Inbox[M]) Close() {
	b.mu.Lock()
	close(b.C)
	b.mu.Unlock()
}
