package simplesockets

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

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
	gen uint64        // buf's generation when Data was handed out
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
// (subscribing), how the channels are ordered and buffered (EventBuffer;
// Messages: MessageBuffer), and that the owner closes all four once its
// last goroutine has ended: when Serve returns, or on Client.Close.
type channels struct{ h *hub }

// Connects delivers each connection once it is set up (after the TLS
// handshake, if any), before any of its Messages.
func (e *channels) Connects() <-chan *Conn {
	e.h.subConnects.Store(true)
	return e.h.connects
}

// Messages delivers every message received, in order per connection. While
// the application does not take them, connections stop reading their
// sockets (TCP backpressure; see MaxPendingBytes).
func (e *channels) Messages() <-chan Message {
	e.h.subMessages.Store(true)
	return e.h.in.ch
}

// Disconnects delivers one Disconnect for every connection delivered on
// Connects, after its last Message.
func (e *channels) Disconnects() <-chan Disconnect {
	e.h.subDisconnects.Store(true)
	return e.h.disconnects
}

// Errors delivers what has no Disconnect: a Server's connections refused
// before Connects (a *ConnError: failed TLS handshake,
// MaxConnectionsPerIP) and accept errors; a Client's failed automatic
// reconnection attempts (*ReconnectError). A connection's own failure is
// its Disconnect's Err only.
func (e *channels) Errors() <-chan error {
	e.h.subErrors.Store(true)
	return e.h.errs
}

// Stats returns a snapshot of the counters.
func (e *channels) Stats() Stats { return e.h.stats() }

// hub is what a Server or Client shares with its connections: the four
// channels, the options and the counters. It closes the channels once, after
// the owner's last goroutine has ended.
type hub struct {
	opts resolved
	log  *slog.Logger
	// closeReason is the Disconnect reason when the owner closes:
	// ErrServerClosed or errClientClosed.
	closeReason error

	in          *inbox // the Messages channel and what it holds
	connects    chan *Conn
	disconnects chan Disconnect
	errs        chan error

	// A lifecycle channel whose accessor was called is "subscribed": its
	// events are delivered with blocking sends (backpressure). Before that,
	// events that do not fit in its buffer are dropped and counted.
	// subMessages says Messages was asked for: a Disconnect then waits for
	// its connection's messages to be received (order.go).
	subConnects, subDisconnects, subErrors, subMessages atomic.Bool

	// connLock (a one-slot channel, so a select can give up on it)
	// serializes sends on connects, and connSent counts them, so that
	// connSent - len(connects) Connects are known to be received (order.go).
	connLock chan struct{}
	connSent atomic.Uint64
	// progress is when the owner went hard or, since, a Disconnect was
	// last taken (unix nanoseconds): Disconnects keep coming while the
	// application takes them (order.go).
	progress atomic.Int64

	hard     chan struct{} // closed on Close: no more blocking sends
	hardOnce sync.Once
	doneOnce sync.Once

	nextID atomic.Uint64
	st     counters
	// spawn starts a goroutine of the owner's group (a connection's
	// writer). It is set before the first connection exists.
	spawn func(func())
}

func newHub(opts resolved, closeReason error, maxTotalPending int) *hub {
	h := &hub{
		opts:        opts,
		closeReason: closeReason,
		log:         opts.Logger,
		connects:    make(chan *Conn, opts.EventBuffer),
		disconnects: make(chan Disconnect, opts.EventBuffer),
		errs:        make(chan error, opts.EventBuffer),
		hard:        make(chan struct{}),
		connLock:    make(chan struct{}, 1),
	}
	h.in = newInbox(opts.MessageBuffer, opts.maxPending, maxTotalPending, h)
	return h
}

// stats returns the counters and the pending bytes.
func (h *hub) stats() Stats {
	st := h.st.snapshot()
	st.PendingBytes = int64(h.in.pendingBytes())
	return st
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
		h.in.close()
		close(h.connects)
		close(h.disconnects)
		close(h.errs)
	})
}

// emit delivers v on ch: blocking while the channel is subscribed and the
// owner is not closing, otherwise only if there is room (else it counts a
// drop). It reports whether v was delivered.
func emit[T any](h *hub, ch chan T, sub *atomic.Bool, v T) bool {
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
		select {
		case ch <- v:
			return true
		default:
		}
	}
	h.st.eventsDropped.Add(1)
	return false
}

// emitConnect delivers c's Connect and, if Connects is subscribed, records
// its place (c.connSeq) so that c's Messages and Disconnect wait until it
// has been received.
func (h *hub) emitConnect(c *Conn) {
	select {
	case h.connLock <- struct{}{}:
	case <-h.hard:
		h.st.eventsDropped.Add(1)
		return
	}
	sub := h.subConnects.Load()
	if emit(h, h.connects, &h.subConnects, c) {
		n := h.connSent.Add(1)
		if sub {
			c.connSeq = n
		}
	}
	<-h.connLock
}

// emitDisconnect delivers c's Disconnect as emit does, except that once the
// owner closes hard it still waits while the application takes
// Disconnects (emitClosing).
func (h *hub) emitDisconnect(c *Conn, err error) {
	d := Disconnect{Conn: c, Err: err}
	select {
	case h.disconnects <- d:
		return
	default:
	}
	if h.subDisconnects.Load() {
		select {
		case h.disconnects <- d:
			return
		case <-h.hard:
		}
		if h.emitClosing(d) {
			return
		}
	}
	h.st.eventsDropped.Add(1)
}

func (h *hub) emitError(err error) { emit(h, h.errs, &h.subErrors, err) }

// Logging helpers: silent when no Logger is configured.
func (h *hub) logConn(level slog.Level, msg string, c *Conn, err error) {
	if h.log == nil || !h.log.Enabled(context.Background(), level) {
		return
	}
	attrs := []slog.Attr{slog.Uint64("conn", c.id), slog.String("remote", addrString(c.remote))}
	if err != nil {
		attrs = append(attrs, slog.String("reason", err.Error()))
	}
	h.log.LogAttrs(context.Background(), level, msg, attrs...)
}

func (h *hub) logErr(msg string, err error) {
	if h.log == nil {
		return
	}
	h.log.LogAttrs(context.Background(), slog.LevelWarn, msg, slog.String("error", err.Error()))
}
