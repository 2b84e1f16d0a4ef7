package simplesockets

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Message is one message received from a peer, as cut by the Framing.
type Message struct {
	// Conn is the connection the message arrived on. It stays valid after
	// the connection has ended; Send on it then returns ErrClosed.
	Conn *Conn
	// Data is the payload; its capacity equals its length. It belongs to
	// the receiver, with one exception: once m.Conn.Send(m.Data) (sending
	// it back on the connection it arrived on) has returned nil, it is the
	// package's, which reuses a large Data's memory for a later message; do
	// not read, modify or keep it after that. Sent anywhere else, or not at
	// all, it stays the receiver's. Options.KeepData removes the exception.
	Data []byte
	// Time is when the read that completed the message returned.
	Time time.Time
}

// Disconnect reports that a connection has ended. Exactly one Disconnect is
// produced for every connection that was produced on Connects.
type Disconnect struct {
	// Conn is the connection that ended.
	Conn *Conn
	// Err says why; it is never nil. It matches (errors.Is) one of
	// ErrPeerClosed, ErrConnReset, ErrIdleTimeout, ErrReadTimeout,
	// ErrWriteTimeout, ErrMessageTooLarge, ErrInvalidMessage,
	// ErrSendQueueFull, ErrKicked, ErrServerClosed, ErrClientClosed,
	// ErrHookPanic, and wraps the underlying error where there is one.
	Err error
}

// hub is what a Server or Client shares with its connections: the four
// channels, the options and the counters. It closes the channels once, after
// the owner's last goroutine has ended.
type hub struct {
	opts resolved
	log  *slog.Logger
	// closeReason is the Disconnect reason when the owner closes:
	// ErrServerClosed or ErrClientClosed.
	closeReason error

	messages    chan Message
	connects    chan *Conn
	disconnects chan Disconnect
	errs        chan error

	// A lifecycle channel whose accessor was called is "subscribed": its
	// events are delivered with blocking sends (backpressure). Before that,
	// events that do not fit in its buffer are dropped and counted.
	subConnects, subDisconnects, subErrors atomic.Bool

	hard     chan struct{} // closed on Close: no more blocking sends
	hardOnce sync.Once
	doneOnce sync.Once

	ended  atomic.Bool // a connection has ended (Client.Disconnected)
	nextID atomic.Uint64
	st     counters
	fl     *flusher    // the server's; nil for a Client
	idle   *idlePoller // the server's, where the platform has one; nil for a Client
}

func newHub(opts resolved, closeReason error) *hub {
	return &hub{
		opts:        opts,
		closeReason: closeReason,
		log:         opts.Logger,
		messages:    make(chan Message, opts.MessageBuffer),
		connects:    make(chan *Conn, opts.EventBuffer),
		disconnects: make(chan Disconnect, opts.EventBuffer),
		errs:        make(chan error, opts.EventBuffer),
		hard:        make(chan struct{}),
	}
}

// goHard switches every delivery to non-blocking: used when closing.
func (h *hub) goHard() { h.hardOnce.Do(func() { close(h.hard) }) }

// closeChannels closes the four channels. The caller guarantees that no
// goroutine of the owner is running (or can start) any more.
func (h *hub) closeChannels() {
	h.doneOnce.Do(func() {
		h.goHard()
		close(h.messages)
		close(h.connects)
		close(h.disconnects)
		close(h.errs)
	})
}

// emit delivers v on ch: blocking while the channel is subscribed and the
// owner is not closing, otherwise only if there is room (else it counts a drop).
func emit[T any](h *hub, ch chan T, sub *atomic.Bool, v T) {
	select {
	case ch <- v:
		return
	default:
	}
	if sub.Load() {
		select {
		case ch <- v:
			return
		case <-h.hard:
		}
		select {
		case ch <- v:
			return
		default:
		}
	}
	h.st.eventsDropped.Add(1)
}

func (h *hub) emitConnect(c *Conn) { emit(h, h.connects, &h.subConnects, c) }
func (h *hub) emitDisconnect(c *Conn, err error) {
	emit(h, h.disconnects, &h.subDisconnects, Disconnect{Conn: c, Err: err})
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
