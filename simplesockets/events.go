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
	// Data is the payload. It belongs to the receiver, always: the package
	// never reads, writes or reuses it after handing it out, unless the
	// receiver gives it back with Release. Its capacity equals its length,
	// so appending to it never touches another message's memory.
	Data []byte
	// Time is when the read that completed the message returned.
	Time time.Time

	buf *readBuf // the pooled buffer Data lies in, for Release; nil if none
	gen uint64   // buf's generation when Data was handed out
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
	subConnects, subDisconnects, subErrors atomic.Bool

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

// goHard switches every delivery to non-blocking: used when closing.
func (h *hub) goHard() { h.hardOnce.Do(func() { close(h.hard) }) }

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
