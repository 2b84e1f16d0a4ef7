package simplesockets

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"math"
	"time"
)

// Options are the per-connection settings that Server and Client share. The
// zero value works and is safe against slow and hostile peers: every field
// documents its default, and NewServer, NewClient and Dial reject values
// that could fail later with an error matching ErrInvalidConfig.
type Options struct {
	// Framing splits the byte stream into messages. If nil, Raw() is used:
	// each read is one message, as in the Python package.
	Framing Framing

	// ReadBufferSize is the size of one read from the socket. With Raw
	// framing it is also the largest message (the Python recv_buffer). If
	// zero, 2048 is used for Raw and
	// 4096 for other framings, whose buffer grows
	// for a larger frame as its bytes arrive (up to the framing's
	// MaxFrameSize) and shrinks back. It must be between 0 and
	// 64 MiB.
	ReadBufferSize int

	// MessageBuffer is the capacity of the Messages channel, in messages.
	// If zero, 1024; at most 1<<20. The
	// bytes the channel may hold are bounded by MaxPendingBytes (and, on a
	// Server, ServerConfig.MaxTotalPendingBytes).
	MessageBuffer int

	// EventBuffer is the capacity of each of the Connects, Disconnects and
	// Errors channels. If zero, 1024; at most
	// 1<<20. See the package documentation, section "Lifecycle
	// events", for what happens when one is full.
	EventBuffer int

	// MaxPendingBytes bounds, per connection, the bytes of messages read
	// from the socket and not yet received from Messages. When a connection
	// holds that much, its reader stops reading its socket (TCP
	// backpressure) until the application has received some: one flooding
	// peer cannot fill the Messages channel for the others. One message
	// larger than the limit is still delivered when the connection has
	// nothing else pending. If zero, 1 MiB; it must not be negative.
	MaxPendingBytes int

	// MaxQueuedBytes bounds the bytes queued for sending on one connection
	// (encoded frames not yet written to the socket). When a Send would go
	// over it, Send follows SendPolicy; but while the socket is full
	// (whether its peer reads slowly or not at all is being judged), Send
	// queues up to twice the limit without waiting, under the policies
	// other than SendQueueBlock. While the queue holds half the limit or
	// more, the connection does not read: a peer that does not read its
	// replies sends the application nothing more. A
	// single message larger than the limit is still accepted when the
	// queue is empty. If zero,
	// 4 MiB; a negative value means no limit (the
	// queue grows with whatever the application sends).
	MaxQueuedBytes int

	// SendPolicy says what Send does when the send queue holds
	// MaxQueuedBytes. The zero value is
	// SendQueueDisconnect on a Server (a peer that does not read never
	// stalls the application) and SendQueueBlock on a Client.
	SendPolicy SendPolicy

	// StallTimeout is how long a peer's socket may accept nothing while
	// its send queue is full before SendQueueDisconnect cuts it off
	// (ErrSlowConsumer). "Accepts nothing"
	// means that no write moved a byte and, on Linux, that the socket's own
	// send buffer did not shrink either (a peer that reads slowly frees it
	// a little at a time, while the kernel lets the writer in only once a
	// good part is free). It is also about the longest a Send waits for a
	// peer that does not read. If zero, 100ms; it must
	// not be negative.
	StallTimeout time.Duration

	// IdleTimeout ends a connection (ErrReadTimeout) on which nothing was
	// received for this long. Zero or negative means no idle timeout.
	IdleTimeout time.Duration

	// ReadTimeout ends a connection (ErrReadTimeout) when a frame that has
	// begun to arrive is not complete within this time. Zero or negative
	// means no limit.
	ReadTimeout time.Duration

	// WriteTimeout ends a connection (ErrWriteTimeout) when its writes make
	// no progress for this long: every write that moves bytes restarts it,
	// so a peer that keeps reading, however slowly, is never cut by it. The
	// deadline is refreshed at most every quarter of it, so no progress is
	// detected after between 3/4 of it and all of it. If zero,
	// 30s; a negative value means no limit.
	WriteTimeout time.Duration

	// TLSConfig, if non-nil, makes every connection TLS (crypto/tls). A
	// server needs Certificates (or GetCertificate); set ClientAuth to
	// tls.RequireAndVerifyClientCert for mutual TLS.
	TLSConfig *tls.Config

	// HandshakeTimeout bounds the TLS handshake. If zero,
	// 10s; a negative value means no limit.
	HandshakeTimeout time.Duration

	// KeepAlive is the TCP keep-alive period. If zero, Go's default (15s)
	// is used; a negative value disables keep-alive.
	KeepAlive time.Duration

	// Logger receives structured logs (connection id, remote address,
	// reason; never payloads). If nil, nothing is logged.
	Logger *slog.Logger
}

// SendPolicy is what Send does when a connection's send queue holds
// MaxQueuedBytes already. The zero value is SendQueueDisconnect on a Server
// and SendQueueBlock on a Client.
type SendPolicy int

const (
	// SendQueueBlock makes Send wait until the queue has room, the
	// connection ends (Send returns ErrClosed) or, through WriteTimeout, the
	// peer is declared dead. This is TCP's own backpressure, passed on to the
	// caller of Send: natural for a Client talking to one server, and a
	// peer that does not read stalls whoever calls Send for it.
	SendQueueBlock SendPolicy = iota + 1
	// SendQueueDisconnect makes Send wait for room only while the peer's
	// socket accepts bytes (a burst larger than MaxQueuedBytes to a peer
	// that reads is delivered in full); if the socket accepts nothing for
	// StallTimeout, the peer is a slow consumer: the connection ends with
	// ErrSlowConsumer (counted in Stats.SlowConsumers) and Send returns
	// that error.
	SendQueueDisconnect
)

// Defaults used when an Options field is zero, and the largest values
// accepted.
const (
	defaultMessageBuffer    = 1024
	defaultEventBuffer      = 1024
	defaultMaxPendingBytes  = 1 << 20
	defaultMaxQueuedBytes   = 4 << 20
	defaultStallTimeout     = 100 * time.Millisecond
	defaultWriteTimeout     = 30 * time.Second
	defaultHandshakeTimeout = 10 * time.Second

	// maxReadBufferSize is the largest ReadBufferSize accepted.
	maxReadBufferSize = 64 << 20
	// maxChannelBuffer is the largest MessageBuffer and EventBuffer
	// accepted.
	maxChannelBuffer = 1 << 20
	// maxByteLimit is the largest byte limit accepted (MaxPendingBytes,
	// MaxQueuedBytes, ServerConfig.MaxTotalPendingBytes): 1 TiB (the
	// largest int on 32-bit platforms).
	maxByteLimit = min(1<<40, math.MaxInt)
)

// resolved is Options with the defaults filled in.
type resolved struct {
	Options
	readSize   int // the read buffer's size between large frames
	maxFrame   int // most bytes buffered for one frame
	maxPending int // per connection, inbound
	maxQueued  int // <0: unlimited
	policy     SendPolicy
	raw        bool
	sz         sizer // Framing's sizer, if it has one (asserted once, not per message)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
}

// resolve validates o and fills in the defaults; server chooses the
// default SendPolicy.
func (o Options) resolve(server bool) (resolved, error) {
	r := resolved{Options: o}
	if r.Framing == nil {
		r.Framing = Raw()
	}
	r.raw = isRaw(r.Framing)
	r.sz, _ = r.Framing.(sizer)
	switch {
	case o.ReadBufferSize < 0 || o.ReadBufferSize > maxReadBufferSize:
		return r, invalid("ReadBufferSize %d is not between 0 and %d", o.ReadBufferSize, maxReadBufferSize)
	case o.MessageBuffer < 0 || o.MessageBuffer > maxChannelBuffer:
		return r, invalid("MessageBuffer %d is not between 0 and %d", o.MessageBuffer, maxChannelBuffer)
	case o.EventBuffer < 0 || o.EventBuffer > maxChannelBuffer:
		return r, invalid("EventBuffer %d is not between 0 and %d", o.EventBuffer, maxChannelBuffer)
	case o.MaxPendingBytes < 0 || o.MaxPendingBytes > maxByteLimit:
		return r, invalid("MaxPendingBytes %d is not between 0 and %d", o.MaxPendingBytes, maxByteLimit)
	case o.MaxQueuedBytes > maxByteLimit:
		return r, invalid("MaxQueuedBytes %d is over %d", o.MaxQueuedBytes, maxByteLimit)
	case o.SendPolicy < 0 || o.SendPolicy > SendQueueDisconnect:
		return r, invalid("unknown SendPolicy %d", int(o.SendPolicy))
	case o.StallTimeout < 0:
		return r, invalid("StallTimeout %v is negative", o.StallTimeout)
	}
	r.readSize = o.ReadBufferSize
	if r.readSize == 0 {
		r.readSize = defaultFramedReadSize
		if r.raw {
			r.readSize = defaultReadBufferSize
		}
	}
	r.maxFrame = r.Framing.MaxFrameSize()
	if r.maxFrame <= 0 {
		r.maxFrame = defaultMaxMessageSize
	}
	r.maxFrame = max(r.maxFrame, r.readSize)
	if r.MessageBuffer == 0 {
		r.MessageBuffer = defaultMessageBuffer
	}
	if r.EventBuffer == 0 {
		r.EventBuffer = defaultEventBuffer
	}
	r.maxPending = cmp0(o.MaxPendingBytes, defaultMaxPendingBytes)
	r.maxQueued = cmp0(o.MaxQueuedBytes, defaultMaxQueuedBytes)
	r.policy = o.SendPolicy
	if r.policy == 0 {
		r.policy = SendQueueBlock
		if server {
			r.policy = SendQueueDisconnect
		}
	}
	if r.StallTimeout == 0 {
		r.StallTimeout = defaultStallTimeout
	}
	if r.WriteTimeout == 0 {
		r.WriteTimeout = defaultWriteTimeout
	}
	if r.HandshakeTimeout == 0 {
		r.HandshakeTimeout = defaultHandshakeTimeout
	}
	return r, nil
}

// cmp0 returns v, or def if v is zero.
func cmp0[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
