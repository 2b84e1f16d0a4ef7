package simplesockets

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"
)

// Options are the per-connection settings that Server and Client share. The
// zero value works: every field documents its default.
type Options struct {
	// Framing splits the byte stream into messages. If nil, Raw() is used:
	// each read is one message, as in the Python package.
	Framing Framing

	// ReadBufferSize is the size of one read from the socket. With Raw
	// framing it is also the largest message (the Python recv_buffer). If
	// zero, DefaultReadBufferSize (2048) is used for Raw and
	// DefaultFramedReadSize (4096) for other framings, whose buffer grows
	// for a larger frame (up to the framing's MaxFrameSize) and shrinks back.
	ReadBufferSize int

	// KeepData makes every Message.Data stay the receiver's for good. By
	// default (false), a Data sent back on the connection it arrived on,
	// m.Conn.Send(m.Data), is the package's once that Send has returned
	// nil: a large one (a frame that needed a buffer of its own) goes back
	// to the package's buffer pool for a later message, which makes echoing
	// large messages allocation-free, so the application must not use it
	// after that Send. Set KeepData if code may read or keep a Data after
	// sending it back (for example, logs it afterwards).
	KeepData bool

	// MessageBuffer is the capacity of the Messages channel. If zero, 1024.
	// When it is full, readers stop reading their sockets (backpressure).
	MessageBuffer int

	// EventBuffer is the capacity of each of the Connects, Disconnects and
	// Errors channels. If zero, 1024. See the package documentation,
	// section "Lifecycle events", for what happens when one is full.
	EventBuffer int

	// MaxQueuedBytes bounds the bytes queued for sending on one connection
	// (encoded frames not yet written to the socket). If zero,
	// DefaultMaxQueuedBytes (4 MiB); a negative value means no limit. A
	// single message larger than the limit is still accepted when the queue
	// is empty.
	MaxQueuedBytes int

	// SendPolicy says what Send does when the send queue is full. The zero
	// value is SendQueueBlock.
	SendPolicy SendPolicy

	// IdleTimeout ends a connection (ErrIdleTimeout) on which nothing was
	// received for this long. Zero or negative means no idle timeout. With
	// a timeout, a connection that has sent nothing yet waits on its own
	// goroutine (its deadline needs one) instead of parking without one
	// (see "Backpressure" in the package documentation).
	IdleTimeout time.Duration

	// ReadTimeout ends a connection (ErrReadTimeout) when a frame that has
	// begun to arrive is not complete within this time. Zero or negative
	// means no limit.
	ReadTimeout time.Duration

	// WriteTimeout ends a connection (ErrWriteTimeout) when one write to the
	// socket makes no progress for this long, typically because the peer
	// stopped reading. The deadline is refreshed at most every quarter of
	// it, so a write gets between 3/4 of it and all of it. If zero,
	// DefaultWriteTimeout (30s); a negative value means no limit.
	WriteTimeout time.Duration

	// TLSConfig, if non-nil, makes every connection TLS (crypto/tls). A
	// server needs Certificates (or GetCertificate); set ClientAuth to
	// tls.RequireAndVerifyClientCert for mutual TLS.
	TLSConfig *tls.Config

	// HandshakeTimeout bounds the TLS handshake. If zero,
	// DefaultHandshakeTimeout (10s); a negative value means no limit.
	HandshakeTimeout time.Duration

	// KeepAlive is the TCP keep-alive period. If zero, Go's default (15s)
	// is used; a negative value disables keep-alive.
	KeepAlive time.Duration

	// OnConnect, if set, runs on the connection's goroutine after the TLS
	// handshake and before the connection is produced on Connects. A non-nil
	// error or a panic refuses the connection: it is closed, reported on
	// Errors (a panic as ErrHookPanic) and never produced on Connects. It must
	// not block for long: the connection waits for it.
	OnConnect func(*Conn) error

	// OnMessage, if set, receives every message on the connection's
	// goroutine instead of the Messages channel, in order (handler style:
	// no channel hop). While it runs the connection does not read. A panic
	// ends the connection with ErrHookPanic, reported on Errors.
	OnMessage func(Message)

	// OnDisconnect, if set, runs on the connection's goroutine just before
	// its Disconnect is produced. A panic is recovered and reported on Errors.
	OnDisconnect func(Disconnect)

	// Logger receives structured logs (connection id, remote address,
	// reason; never payloads). If nil, nothing is logged.
	Logger *slog.Logger
}

// SendPolicy is what Send does when a connection's send queue holds
// MaxQueuedBytes already.
type SendPolicy int

const (
	// SendQueueBlock makes Send wait until the queue has room, the
	// connection ends (Send returns ErrClosed) or, through WriteTimeout, the
	// peer is declared dead. This is TCP's own backpressure, passed on to the
	// caller of Send.
	SendQueueBlock SendPolicy = iota
	// SendQueueFail makes Send return ErrSendQueueFull at once; the
	// connection stays up and the message is not queued.
	SendQueueFail
	// SendQueueDisconnect ends the connection with ErrSendQueueFull and
	// makes Send return that error: a peer that cannot keep up is dropped.
	SendQueueDisconnect
)

// String returns the policy's name.
func (p SendPolicy) String() string {
	switch p {
	case SendQueueBlock:
		return "block"
	case SendQueueFail:
		return "fail"
	case SendQueueDisconnect:
		return "disconnect"
	}
	return fmt.Sprintf("SendPolicy(%d)", int(p))
}

// Defaults used when an Options field is zero.
const (
	DefaultMessageBuffer    = 1024
	DefaultEventBuffer      = 1024
	DefaultMaxQueuedBytes   = 4 << 20
	DefaultWriteTimeout     = 30 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
)

// resolved is Options with the defaults filled in.
type resolved struct {
	Options
	readSize  int // initial read buffer
	maxFrame  int // most bytes buffered for one frame
	maxQueued int // <0: unlimited
	raw       bool
	sz        sizer // Framing's sizer, if it has one (asserted once, not per message)
}

func (o Options) resolve() (resolved, error) {
	r := resolved{Options: o}
	if r.Framing == nil {
		r.Framing = Raw()
	}
	r.raw = isRaw(r.Framing)
	r.sz, _ = r.Framing.(sizer)
	if o.ReadBufferSize < 0 {
		return r, fmt.Errorf("%w: ReadBufferSize %d is negative", ErrInvalidConfig, o.ReadBufferSize)
	}
	if o.MessageBuffer < 0 || o.EventBuffer < 0 {
		return r, fmt.Errorf("%w: MessageBuffer and EventBuffer must not be negative", ErrInvalidConfig)
	}
	if o.SendPolicy < SendQueueBlock || o.SendPolicy > SendQueueDisconnect {
		return r, fmt.Errorf("%w: unknown SendPolicy %d", ErrInvalidConfig, int(o.SendPolicy))
	}
	r.readSize = o.ReadBufferSize
	if r.readSize == 0 {
		r.readSize = DefaultFramedReadSize
		if r.raw {
			r.readSize = DefaultReadBufferSize
		}
	}
	r.maxFrame = r.Framing.MaxFrameSize()
	if r.maxFrame <= 0 {
		r.maxFrame = DefaultMaxMessageSize
	}
	if r.MessageBuffer == 0 {
		r.MessageBuffer = DefaultMessageBuffer
	}
	if r.EventBuffer == 0 {
		r.EventBuffer = DefaultEventBuffer
	}
	r.maxQueued = o.MaxQueuedBytes
	if r.maxQueued == 0 {
		r.maxQueued = DefaultMaxQueuedBytes
	}
	if r.WriteTimeout == 0 {
		r.WriteTimeout = DefaultWriteTimeout
	}
	if r.HandshakeTimeout == 0 {
		r.HandshakeTimeout = DefaultHandshakeTimeout
	}
	return r, nil
}
