package simplesockets

import (
	"cmp"
	"crypto/tls"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/simplesockets/simplesockets-go/internal/frame"
)

// Options are the per-connection settings that Server and Client share. The
// zero value works and is safe against slow and hostile peers; NewServer,
// NewClient and Dial reject (ErrInvalidConfig) values that could fail later.
type Options struct {
	// Framing splits the byte stream into messages. If nil, Raw().
	Framing Framing

	// ReadBufferSize is the size of one read; with Raw framing, the largest
	// message (the Python recv_buffer). If zero, 2048 for Raw and 4096 for
	// other framings, whose buffer grows for a larger frame as its bytes
	// arrive (up to the framing's MaxFrameSize) and shrinks back. At most
	// 64 MiB.
	ReadBufferSize int

	// MessageBuffer is the capacity of the Messages channel, in messages.
	// If zero, 1024; at most 1<<20. Its bytes are bounded by
	// MaxPendingBytes (and ServerConfig.MaxTotalPendingBytes).
	MessageBuffer int

	// EventBuffer is the capacity of each of Connects, Disconnects and
	// Errors. If zero, 1024; at most 1<<20. See "Lifecycle events" in the
	// package doc for a full channel.
	EventBuffer int

	// MaxPendingBytes bounds, per connection, the bytes of messages read and
	// not yet received from Messages. At the bound the reader stops reading
	// its socket (TCP backpressure) until the application has received
	// some, so one flooding peer cannot fill Messages with its bytes (many
	// tiny messages can still fill its slots: see MessageBuffer); one
	// larger message is still delivered when nothing else is pending. If
	// zero, 1 MiB; at most 1 TiB.
	MaxPendingBytes int

	// MaxQueuedBytes bounds the bytes queued for sending on a connection
	// and not yet written. A Send over it follows SendPolicy, but while the
	// socket is full Send queues up to twice the limit without waiting
	// (except under SendQueueBlock). While the queue holds half the limit,
	// the connection does not read: a peer that does not read its replies
	// sends nothing more. One message larger than the limit is accepted
	// into an empty queue. If zero, 4 MiB; negative means no limit.
	MaxQueuedBytes int

	// SendPolicy says what Send does when the queue holds MaxQueuedBytes.
	// If zero, SendQueueDisconnect on a Server, SendQueueBlock on a Client.
	SendPolicy SendPolicy

	// StallTimeout is how long a peer's socket may accept nothing while its
	// queue is full before SendQueueDisconnect cuts it off
	// (ErrSlowConsumer): no write moved a byte and, on Linux, the socket's
	// send buffer did not shrink either (a slow reader frees it a little at
	// a time). It is about the longest a Send waits for a peer that does not
	// read. If zero, 100ms; it must not be negative.
	StallTimeout time.Duration

	// IdleTimeout ends a connection (ErrReadTimeout, "idle timeout") on
	// which nothing arrived for this long. Zero or negative: none.
	IdleTimeout time.Duration

	// ReadTimeout ends a connection (ErrReadTimeout) when a frame that has
	// begun to arrive is not complete within this time. Zero or negative:
	// none.
	ReadTimeout time.Duration

	// WriteTimeout ends a connection (ErrWriteTimeout) whose writes make no
	// progress for this long; every write that moves bytes restarts it, so
	// a peer that keeps reading, however slowly, is never cut by it (it
	// fires between 3/4 of it and all of it after the last progress). If
	// zero, 30s; negative means none.
	WriteTimeout time.Duration

	// TLSConfig, if non-nil, makes every connection TLS. A server needs
	// Certificates (or GetCertificate); set ClientAuth to
	// tls.RequireAndVerifyClientCert for mutual TLS.
	TLSConfig *tls.Config

	// HandshakeTimeout bounds the TLS handshake. If zero, 10s; negative
	// means none.
	HandshakeTimeout time.Duration

	// KeepAlive is the TCP keep-alive period. If zero, 15s (Go's default);
	// negative disables it.
	KeepAlive time.Duration

	// Logger receives structured logs (connection id, remote address,
	// reason; never payloads). If nil, nothing is logged.
	Logger *slog.Logger
}

// SendPolicy is what Send does when a connection's send queue holds
// MaxQueuedBytes. The zero value is SendQueueDisconnect on a Server and
// SendQueueBlock on a Client.
type SendPolicy int

const (
	// SendQueueBlock makes Send wait until the queue has room, the
	// connection ends (ErrClosed) or WriteTimeout declares the peer dead:
	// TCP's backpressure passed on to the caller. Natural for a Client; on
	// a Server, a peer that does not read stalls whoever sends to it.
	SendQueueBlock SendPolicy = iota + 1
	// SendQueueDisconnect makes Send wait for room only while the peer's
	// socket accepts bytes (a burst larger than MaxQueuedBytes to a reading
	// peer is delivered in full). A peer whose socket accepts nothing for
	// StallTimeout is a slow consumer: the connection ends with
	// ErrSlowConsumer (counted in Stats.SlowConsumers), which Send returns.
	SendQueueDisconnect
)

// Defaults for zero config fields, and the largest values accepted.
const (
	defaultAddr                 = "127.0.0.1:25567" // the Python package's port
	defaultReadBufferSize       = 2048              // Raw, as the Python recv_buffer
	defaultFramedReadSize       = 4096              // other framings, between large frames
	defaultMaxMessageSize       = 4 << 20           // LengthPrefixed, and custom framings
	defaultMaxLineSize          = 64 << 10          // Delimited, Lines
	defaultMessageBuffer        = 1024
	defaultEventBuffer          = 1024
	defaultMaxPendingBytes      = 1 << 20
	defaultMaxTotalPendingBytes = 64 << 20
	defaultMaxQueuedBytes       = 4 << 20
	defaultStallTimeout         = 100 * time.Millisecond
	defaultWriteTimeout         = 30 * time.Second
	defaultHandshakeTimeout     = 10 * time.Second
	defaultShutdownTimeout      = 5 * time.Second
	defaultProxyHeaderTimeout   = 3 * time.Second

	maxReadBufferSize = 64 << 20
	maxChannelBuffer  = 1 << 20
	maxByteLimit      = min(1<<40, math.MaxInt) // 1 TiB, or the largest int
)

// resolved is Options with the defaults filled in.
type resolved struct {
	Options
	readSize int   // the read buffer's size between large frames
	maxFrame int   // most bytes buffered for one frame
	sz       sizer // Framing's sizer, if it has one (asserted once, not per message)
}

// checkNetwork validates network and fills in the defaults.
func checkNetwork(network, addr string) (string, string, error) {
	switch network {
	case "":
		network = "tcp"
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return "", "", invalid("network %q (want tcp, tcp4, tcp6 or unix)", network)
	}
	return network, cmp.Or(addr, defaultAddr), nil
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
	switch f := r.Framing.(type) {
	case frame.Raw, frame.Len32, frame.Delim: // only these: the reader trusts sz's Split to return sub-slices of data (frame.Buffer)
		r.sz = f.(sizer)
	}
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
	r.readSize = cmp.Or(o.ReadBufferSize, defaultFramedReadSize)
	if isRaw(r.Framing) && o.ReadBufferSize == 0 {
		r.readSize = defaultReadBufferSize
	}
	r.maxFrame = r.Framing.MaxFrameSize()
	if r.maxFrame <= 0 {
		r.maxFrame = defaultMaxMessageSize
	}
	r.maxFrame = max(r.maxFrame, r.readSize)
	r.MessageBuffer = cmp.Or(r.MessageBuffer, defaultMessageBuffer)
	r.EventBuffer = cmp.Or(r.EventBuffer, defaultEventBuffer)
	r.MaxPendingBytes = cmp.Or(r.MaxPendingBytes, defaultMaxPendingBytes)
	r.MaxQueuedBytes = cmp.Or(r.MaxQueuedBytes, defaultMaxQueuedBytes)
	if r.SendPolicy == 0 {
		r.SendPolicy = SendQueueBlock
		if server {
			r.SendPolicy = SendQueueDisconnect
		}
	}
	r.StallTimeout = cmp.Or(r.StallTimeout, defaultStallTimeout)
	r.WriteTimeout = cmp.Or(r.WriteTimeout, defaultWriteTimeout)
	r.HandshakeTimeout = cmp.Or(r.HandshakeTimeout, defaultHandshakeTimeout)
	return r, nil
}
