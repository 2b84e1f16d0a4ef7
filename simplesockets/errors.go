package simplesockets

import (
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/simplesockets/simplesockets-go/internal/errs"
	"github.com/simplesockets/simplesockets-go/internal/frame"
)

// Sentinel errors. Every error the package returns or reports matches one of
// these with errors.Is; most also wrap the underlying cause (a syscall error,
// os.ErrDeadlineExceeded, a crypto/tls error), which errors.Is finds as well.
var (
	// ErrClosed is returned by Send and Reconnect once the connection,
	// server or client is closed, and matches the Disconnect reason of a
	// connection this side closed: by Conn.Close (the message says "closed
	// by the application"), Client.Close or Client.Reconnect ("client
	// closed"). It is net.ErrClosed, so code that already checks for
	// net.ErrClosed keeps working.
	ErrClosed = net.ErrClosed

	// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown
	// or Close, and is the Disconnect reason of connections ended by them.
	ErrServerClosed = errors.New("simplesockets: server closed")

	// ErrAlreadyStarted is returned by Serve, ListenAndServe and Listen when
	// the server is already serving or listening, and by Client.Connect when
	// the client is already connected.
	ErrAlreadyStarted = errors.New("simplesockets: already started")

	// ErrNotConnected is returned by Client.Send when the client has no
	// connection (before Connect, or after the connection ended).
	ErrNotConnected = errors.New("simplesockets: not connected")

	// ErrConnReset is the Disconnect reason when the peer reset the
	// connection (ECONNRESET, EPIPE) or the connection otherwise failed (a
	// keep-alive timeout, an unreachable host, a broken TLS record). The
	// underlying error is wrapped too.
	ErrConnReset = errors.New("simplesockets: connection reset by peer")

	// ErrReadTimeout is the Disconnect reason when nothing arrived for
	// IdleTimeout, or a frame that had begun to arrive was not complete
	// within ReadTimeout (the message says which). It also wraps
	// os.ErrDeadlineExceeded.
	ErrReadTimeout = errors.New("simplesockets: read timeout")

	// ErrWriteTimeout is the Disconnect reason when a write to the peer made
	// no progress for WriteTimeout (the peer stopped reading). It also wraps
	// os.ErrDeadlineExceeded.
	ErrWriteTimeout = errors.New("simplesockets: write timeout")

	// ErrMessageTooLarge is the Disconnect reason when the peer announced or
	// sent a frame larger than the framing's limit (checked before any
	// buffer for it is allocated), and is returned by Send for a payload
	// larger than that limit.
	ErrMessageTooLarge = frame.ErrTooLarge

	// ErrInvalidMessage is returned by Send when the framing cannot encode
	// the payload (for example a Delimited payload that contains the
	// delimiter), and is the Disconnect reason when a custom Framing
	// rejects the peer's bytes.
	ErrInvalidMessage = frame.ErrInvalid

	// ErrSlowConsumer is the error Send returns when a peer's send queue is
	// full and its socket accepted nothing for StallTimeout: the peer does
	// not read, and the connection ends with it as the Disconnect reason
	// (counted in Stats.SlowConsumers). A peer whose writes make no progress
	// for WriteTimeout ends with ErrWriteTimeout instead.
	ErrSlowConsumer = errors.New("simplesockets: slow consumer")

	// ErrTLSHandshake is reported on Errors (in a *ConnError) when a
	// server's TLS handshake failed or timed out; such a connection never
	// appears on Connects. Client.Connect returns it. The crypto/tls error
	// is wrapped too.
	ErrTLSHandshake = errors.New("simplesockets: TLS handshake failed")

	// ErrRefused is reported on Errors (in a *ConnError) for a connection
	// refused before it reached Connects: its remote IP already had
	// MaxConnectionsPerIP connections, or its PROXY header was missing,
	// malformed or not allowed (see ServerConfig.ProxyTrusted). The message
	// says which.
	ErrRefused = errors.New("simplesockets: connection refused")

	// ErrInvalidConfig is wrapped by the error NewServer and NewClient
	// return for a configuration they reject.
	ErrInvalidConfig = errors.New("simplesockets: invalid configuration")

	// errZero is what the methods of a zero Server, Client or Conn return.
	errZero = fmt.Errorf("%w: a zero value: make a Server with NewServer, a Client with NewClient or Dial; a Conn comes from Connects", ErrInvalidConfig)
)

// Disconnect reasons with a message of their own that match (errors.Is) a
// more general sentinel.
var (
	// A connection this side closed matches ErrClosed.
	errKicked       = errs.Alias("simplesockets: closed by the application", ErrClosed)
	errClientClosed = errs.Alias("simplesockets: client closed", ErrClosed)
	// The peer closed its side cleanly (a FIN): it matches io.EOF. In the
	// middle of a frame, the reason also wraps io.ErrUnexpectedEOF.
	errPeerClosed = errs.Alias("simplesockets: peer closed the connection", io.EOF)
	// Nothing arrived for IdleTimeout: it matches ErrReadTimeout.
	errIdle = errs.Alias("simplesockets: idle timeout", ErrReadTimeout)
	// A PROXY LOCAL header (a balancer's health check): closed quietly.
	errHealthCheck = errs.Alias("simplesockets: PROXY health check", ErrRefused)
)

// ConnError is an error that belongs to one connection: on Errors, a
// connection refused before it reached Connects. Err matches one of the
// sentinel errors above (ErrTLSHandshake, ErrRefused); Conn is the
// connection (it never reached Connects), Remote names the peer.
type ConnError struct {
	Conn   *Conn
	Remote net.Addr
	Err    error
}

// Error implements error.
func (e *ConnError) Error() string {
	id := "-"
	if e.Conn != nil {
		id = e.Conn.idString()
	}
	return "simplesockets: conn " + id + " " + addrString(e.Remote) + ": " + errs.Unprefixed(e.Err)
}

// Unwrap returns Err, so errors.Is and errors.As see through a ConnError.
func (e *ConnError) Unwrap() error { return e.Err }

func addrString(a net.Addr) string {
	if a == nil {
		return "<nil>"
	}
	return a.String()
}
