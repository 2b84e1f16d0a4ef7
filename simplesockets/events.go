package simplesockets

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/simplesockets/simplesockets-go/internal/inbox"
	"github.com/simplesockets/simplesockets-go/internal/pool"
)

// Message is one message received from a peer, as cut by the Framing.
type Message struct {
	// Conn is the connection the message arrived on. It stays valid after
	// the connection has ended; Send on it then returns ErrClosed.
	Conn *Conn
	// Data is the payload. It belongs to the receiver, always: the package
	// never reads, writes or reuses it after handing it out, unless the
	// receiver gives it back with Release. Its capacity equals its length,
	// so appending to it never touches another message's memory.
	Data []byte
	// Time is when the read that completed the message returned.
	Time time.Time

	buf *pool.ReadBuf // the pooled buffer Data lies in, for Release; nil if none
	tag uint64        // which part of buf, in which of its generations (pool.ReadBuf.Tag)
}

// Release lets the package reuse the memory of m.Data for a later message,
// which saves an allocation (and garbage collection) per read. It is
// optional: a Message that is never released is garbage collected as
// usual. Call it only when neither m.Data nor any slice of it is used any
// more, by any goroutine: after Release, the memory may be overwritten by
// another connection's message at any moment. (Send copies its argument,
// so m.Conn.Send(m.Data) followed by m.Release() is correct.) Release is
// safe to call more than once and on copies of m: only the first call
// counts; it is safe to call from any goroutine.
//
// A read's messages are copied, up to 32 together, into one block; a block
// of 256 bytes or more goes back once every message in it has been
// released (a message kept keeps its whole block), and for messages in a
// smaller block Release does nothing. A large message of a built-in
// framing that arrives alone (one that grew the read buffer and fills at
// least half of it) is not copied: it takes the read buffer, which goes
// back at its Release. Under the race detector a buffer that goes back is
// overwritten with 0xDD, so that code still reading it fails its tests,
// and a read racing with its reuse is reported (internal/pool).
func (m Message) Release() {
	if b := m.buf; b != nil {
		b.Release(m.tag)
	}
}

// Disconnect reports that a connection has ended. Exactly one Disconnect is
// produced for every connection that was produced on Connects.
type Disconnect struct {
	// Conn is the connection that ended.
	Conn *Conn
	// Err says why; it is never nil. It matches (errors.Is) one of
	// io.EOF (the peer closed), ErrConnReset, ErrReadTimeout,
	// ErrWriteTimeout, ErrMessageTooLarge, ErrInvalidMessage,
	// ErrSlowConsumer, ErrServerClosed or ErrClosed (this side closed it:
	// Conn.Close, Client.Close, Client.Reconnect), and wraps the underlying
	// error where there is one.
	Err error
}

// channels gives a Server and a Client their four channels and Stats. The
// package doc's "Lifecycle events" says what calling an accessor means
// (subscribing) and how the channels are ordered and buffered. The owner
// closes all four once its last goroutine has ended: when Serve returns,
// or on Client.Close.
type channels struct{ h *hub }

// Connects delivers each connection once it is set up (after the TLS
// handshake, if any), before any of its Messages. Calling Connects,
// Disconnects or Errors subscribes that channel: it then gets every event,
// and a full buffer makes the producer wait; a channel never asked for
// drops what does not fit (Stats.EventsDropped). See "Lifecycle events".
func (e *channels) Connects() <-chan *Conn {
	h := e.hub()
	h.subConnects.Store(true)
	return h.connects
}

// Messages delivers every message received, in order per connection. While
// the application does not take them, connections stop reading their
// sockets (TCP backpressure; see MaxPendingBytes).
func (e *channels) Messages() <-chan Message {
	h := e.hub()
	h.subMessages.Store(true)
	return h.in.C
}

// Disconnects delivers one Disconnect for every connection delivered on
// Connects, after its last Message.
func (e *channels) Disconnects() <-chan Disconnect {
	h := e.hub()
	h.subDisconnects.Store(true)
	return h.disconnects
}

// Errors delivers what has no Disconnect: a Server's connections refused
// before Connects (a *ConnError: failed TLS handshake, ErrRefused) and
// accept errors; a Client's failed automatic reconnection attempts
// (*ReconnectError). A connection's own failure is its Disconnect's Err
// only.
func (e *channels) Errors() <-chan error {
	h := e.hub()
	h.subErrors.Store(true)
	return h.errs
}

// Stats returns a snapshot of the counters.
func (e *channels) Stats() Stats {
	h := e.hub()
	st := h.st.snapshot()
	st.PendingBytes = int64(h.in.Bytes())
	return st
}

// hub returns the owner's hub; a zero Server or Client (not made by its
// constructor) gets one whose channels are closed, so that nothing panics.
func (e *channels) hub() *hub {
	if e.h == nil {
		return closedHub()
	}
	return e.h
}

// closedHub is made on first use, with the smallest buffers: no program
// pays for it unless it calls a zero value's accessor.
var closedHub = sync.OnceValue(func() *hub {
	opts, _ := Options{MessageBuffer: 1, EventBuffer: 1}.resolve(false)
	h := newHub(opts, ErrClosed, 0)
	h.closeChannels()
	return h
})

// hub is what a Server or Client shares with its connections: the four
// channels, the options and the counters. It closes the channels once, after
// the owner's last goroutine has ended.
type hub struct {
	opts        resolved
	closeReason error // the Disconnect reason when the owner closes

	in          *inbox.Inbox[Message] // the Messages channel and what it holds
	connects    chan *Conn
	disconnects chan Disconnect
	errs        chan error

	// Set once the channel's accessor was called ("subscribed", package
	// doc: "Lifecycle events").
	subConnects, subDisconnects, subErrors, subMessages atomic.Bool

	// connLock (a one-slot channel, so a select can give up on it)
	// serializes sends on connects, and connSent counts them, so that
	// connSent - len(connects) Connects are known to be received (order.go).
	connLock chan struct{}
	connSent atomic.Uint64
	// progress is when the owner went hard or, since, a Disconnect was
	// last taken (unix nanoseconds; order.go: closing).
	progress atomic.Int64

	hard     chan struct{} // closed on Close: no more blocking sends
	hardOnce sync.Once
	doneOnce sync.Once

	nextID atomic.Uint64
	st     counters
	// spawn starts a goroutine of the owner's group (a connection's reader
	// or writer). It is set before the first connection exists.
	spawn func(func())
	// admit, if set (a Server), vets a new connection before its Connect:
	// the PROXY header and MaxConnectionsPerIP (server.go).
	admit func(*Conn) error
}

func newHub(opts resolved, closeReason error, maxTotalPending int) *hub {
	h := &hub{
		opts:        opts,
		closeReason: closeReason,
		connects:    make(chan *Conn, opts.EventBuffer),
		disconnects: make(chan Disconnect, opts.EventBuffer),
		errs:        make(chan error, opts.EventBuffer),
		hard:        make(chan struct{}),
		connLock:    make(chan struct{}, 1),
	}
	h.in = inbox.New[Message](opts.MessageBuffer, opts.MaxPendingBytes, maxTotalPending, h.hard, &h.st.msgsIn)
	return h
}

// goHard switches every delivery but Disconnects to non-blocking: used
// when closing.
func (h *hub) goHard() {
	h.hardOnce.Do(func() {
		h.progress.Store(time.Now().UnixNano())
		close(h.hard)
	})
}

// closeChannels closes the four channels. The caller guarantees that no
// goroutine of the owner is running (or can start) any more.
func (h *hub) closeChannels() {
	h.doneOnce.Do(func() {
		h.goHard()
		h.in.Close()
		close(h.connects)
		close(h.disconnects)
		close(h.errs)
	})
}

// emit delivers v on ch: if ch is subscribed, blocking until the owner
// closes hard and then as closing says; else only if there is room. It
// counts a drop and returns false if v is not delivered.
func emit[T any](h *hub, ch chan T, sub *atomic.Bool, v T, grace bool) bool {
	select {
	case ch <- v:
		return true
	default:
	}
	if sub.Load() {
		select {
		case ch <- v:
			return true
		case <-h.hard:
		}
		if closing(h, ch, v, grace) {
			return true
		}
	}
	h.st.eventsDropped.Add(1)
	return false
}

// emitConnect delivers c's Connect and, if Connects is subscribed, records
// its place (c.connSeq: order.go).
func (h *hub) emitConnect(c *Conn) {
	select {
	case h.connLock <- struct{}{}:
	case <-h.hard:
		h.st.eventsDropped.Add(1)
		return
	}
	sub := h.subConnects.Load()
	if emit(h, h.connects, &h.subConnects, c, false) {
		if n := h.connSent.Add(1); sub {
			c.connSeq = n
		}
	}
	<-h.connLock
}

func (h *hub) emitDisconnect(c *Conn, err error) {
	emit(h, h.disconnects, &h.subDisconnects, Disconnect{Conn: c, Err: err}, true)
}

func (h *hub) emitError(err error) { emit(h, h.errs, &h.subErrors, err, false) }

// Logging helpers: silent when no Logger is configured.
func (h *hub) logConn(level slog.Level, msg string, c *Conn, err error) {
	log := h.opts.Logger
	if log == nil || !log.Enabled(context.Background(), level) {
		return
	}
	attrs := []slog.Attr{slog.Uint64("conn", c.id), slog.String("remote", addrString(c.remote))}
	if err != nil {
		attrs = append(attrs, slog.String("reason", err.Error()))
	}
	log.LogAttrs(context.Background(), level, msg, attrs...)
}

func (h *hub) logErr(msg string, err error) {
	if h.opts.Logger != nil {
		h.opts.Logger.LogAttrs(context.Background(), slog.LevelWarn, msg, slog.String("error", err.Error()))
	}
}
