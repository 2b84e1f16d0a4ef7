package simplesockets

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/simplesockets/simplesockets-go/internal/errs"
	"github.com/simplesockets/simplesockets-go/internal/inbox"
	"github.com/simplesockets/simplesockets-go/internal/sock"
)

// Conn is one connection of a Server or a Client.
//
// All methods are safe for concurrent use. A Conn stays a valid value after
// the connection has ended (Messages and Disconnects refer to it): Send then
// returns an error matching ErrClosed, and Close does nothing.
//
// Each connection has one reader goroutine, the only reader of its socket,
// which also delivers its Messages and its Connect and Disconnect events;
// and, from its first Send on, one writer goroutine, the only writer of its
// socket. Both are started through the owner's group and have ended when
// the connection's Disconnect is produced.
type Conn struct {
	// The send side: Send and the writer, under mu. It comes first and the
	// fields the reader and the writer write without mu come last, so that
	// they do not share a cache line (measured: Send's lock was 5% of S2's
	// CPU when they did).
	mu         sync.Mutex
	room       sync.Cond // signalled when the queue shrinks or sending stops
	wq         []byte    // encoded frames not yet taken by the writer
	wqMsgs     int       // messages in wq
	inflight   int       // bytes taken by the writer and not yet written
	waiters    int       // Sends waiting for room
	writerOn   bool      // the writer goroutine was started
	writerIdle bool      // the writer waits for a kick
	wstop      bool      // finish: the writer drains the queue and ends
	killed     bool      // kill was called: queued data is dropped
	sendErr    error     // non-nil: Send refuses with this
	reason     error     // why the connection ends (first one wins)

	// Set when the connection is made (kick and wdone by its first Send,
	// under mu), then only read.
	id     uint64
	nc     net.Conn
	h      *hub
	remote net.Addr
	proxy  net.Addr // the balancer's address, behind a PROXY header; set by admit
	ip     string   // the remote IP counted for MaxConnectionsPerIP; set by admit
	local  net.Addr
	ctx    context.Context
	cancel context.CancelCauseFunc
	onEnd  func(*Conn)   // the owner's bookkeeping, run once the Disconnect is sent
	ended  chan struct{} // (ended and closed: a Client's connections only; nil on a Server's)
	closed chan struct{} // closed once the socket is, before the Disconnect waits for order
	kick   chan struct{} // wakes an idle writer; capacity 1
	wdone  chan struct{} // closed when the writer has ended
	pc     *sock.Writer  // the socket, wrapped for progress (under nc if nc is TLS)
	plain  bool          // the writer writes to pc (not TLS)

	// deadlineSet is when the write deadline was last moved (unix
	// nanoseconds). Atomic: under TLS, tls.Conn also writes (alerts, key
	// updates) from the reader's goroutine, and such writes report progress.
	deadlineSet atomic.Int64

	value    atomic.Pointer[any] // SetValue's
	draining atomic.Bool         // stop reading; set with a past read deadline
	live     atomic.Bool         // produced on Connects and not yet ended

	inbox inbox.Source // its messages in the Messages channel (internal/inbox)
	// connSeq is the place of the Connect on Connects, if its reception is
	// waited for (order.go); set before the reader's first delivery.
	connSeq uint64
	// full is set while the writer waits for a full socket (Send then
	// queues without waiting: waitRoomLocked).
	full atomic.Bool
	// over is set while the send queue holds half of MaxQueuedBytes or
	// more (under mu; the reader checks it without: waitOutbound).
	over atomic.Bool
}

// newConn makes the Conn of a socket; pc is the socket wrapped for
// progress (internal/sock), under nc when nc is TLS, or nc itself wrapped.
func newConn(h *hub, parent context.Context, nc net.Conn, pc *sock.Writer, onEnd func(*Conn)) *Conn {
	c := &Conn{
		id:     h.nextID.Add(1),
		nc:     nc,
		h:      h,
		remote: nc.RemoteAddr(),
		local:  nc.LocalAddr(),
		onEnd:  onEnd,
	}
	c.room.L = &c.mu
	c.ctx, c.cancel = context.WithCancelCause(parent)
	pc.Events = (*writerEvents)(c)
	c.pc = pc
	_, isTLS := nc.(*tls.Conn)
	c.plain = !isTLS
	return c
}

// SetValue stores v as the application's own value for this connection
// (its per-connection state: a user, a room, a session), replacing what was
// there. Value returns it. Both are safe for concurrent use.
func (c *Conn) SetValue(v any) { c.value.Store(&v) }

// Value returns the value last stored by SetValue, or nil.
func (c *Conn) Value() any {
	if p := c.value.Load(); p != nil {
		return *p
	}
	return nil
}

// ID is a number unique among the connections of one Server or Client,
// starting at 1 in the order connections were accepted or dialled.
func (c *Conn) ID() uint64 { return c.id }

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// ProxyAddr is the address of the load balancer the connection came
// through, when it began with a PROXY header (see
// ServerConfig.ProxyTrusted), and nil otherwise.
func (c *Conn) ProxyAddr() net.Addr { return c.proxy }

// LocalAddr is this side's address.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// Context is cancelled when the connection begins to be torn down hard or
// has ended; context.Cause then reports the reason (the same error as the
// Disconnect's Err).
func (c *Conn) Context() context.Context {
	if c.ctx == nil { // a zero Conn: not a connection
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(errZero)
		return ctx
	}
	return c.ctx
}

// TLSConnectionState returns the TLS state of the connection, and false if
// it is not a TLS connection.
func (c *Conn) TLSConnectionState() (tls.ConnectionState, bool) {
	if tc, ok := c.nc.(*tls.Conn); ok {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}

// String returns "conn ID (remote address)".
func (c *Conn) String() string { return "conn " + c.idString() + " (" + addrString(c.remote) + ")" }

func (c *Conn) idString() string { return strconv.FormatUint(c.id, 10) }

// Send queues data, framed by the connection's Framing, for writing. It
// copies data, which the caller may reuse as soon as Send returns. Messages
// are written in the order of the Send calls that queued them; several
// queued messages go out in one write. A nil error means queued, not
// delivered.
//
// When the queue holds MaxQueuedBytes, Send follows the SendPolicy: by
// default on a Server it waits for room only while the peer's socket
// accepts bytes, and cuts off a peer that accepts nothing for StallTimeout
// (ErrSlowConsumer, which it returns). It returns an error matching
// ErrClosed once the connection is closing or has ended (wrapping the
// reason), and ErrMessageTooLarge or ErrInvalidMessage if the framing
// cannot encode data.
func (c *Conn) Send(data []byte) error {
	if c.h == nil {
		return errZero
	}
	err := c.send(data)
	if err != nil {
		c.h.st.sendErrors.Add(1)
	}
	return err
}

// Close ends the connection gracefully: it stops reading, delivers the
// messages already read, writes what is queued (bounded by WriteTimeout),
// then closes the socket; the Disconnect's reason matches ErrClosed ("closed
// by the application"). Close does not wait for that (so it can be called
// from the loop that reads Messages); the Disconnect says when it is over.
// Delivering the messages already read waits for room on Messages, so if
// nobody reads Messages the connection ends only when the server or client
// is closed. Close is idempotent and returns nil.
func (c *Conn) Close() error {
	if c.h == nil {
		return errZero
	}
	c.beginDrain(errKicked)
	return nil
}

// kill ends the connection now: sends fail, pending deliveries are
// discarded, the socket is closed (which unblocks the reader and writer).
func (c *Conn) kill(reason error) {
	c.mu.Lock()
	c.killLocked(reason)
	c.mu.Unlock()
	c.closeHard()
}

// closeHard closes the socket (pc, under TLS if any) at once: tls.Conn.Close
// would first wait for a blocked write to send its close_notify.
func (c *Conn) closeHard() { _ = c.pc.Close() }

// killLocked marks the connection killed; the caller closes the socket
// (closeHard) after releasing c.mu.
func (c *Conn) killLocked(reason error) {
	if c.reason == nil {
		c.reason = reason
	}
	if c.sendErr == nil {
		c.sendErr = errs.Because(ErrClosed, c.reason)
	}
	c.killed = true
	c.wq, c.wqMsgs = nil, 0
	c.room.Broadcast()
	c.cancel(c.reason)
}

// beginDrain makes the reader stop after the read in progress; serve then
// delivers what was read, flushes the send queue and closes.
func (c *Conn) beginDrain(reason error) {
	c.setReason(reason)
	c.draining.Store(true)
	_ = c.nc.SetReadDeadline(time.Unix(1, 0))
	c.broadcastRoom() // a reader waiting for the send queue (waitOutbound)
}

// setReason records reason unless one is recorded already, and returns the
// recorded one.
func (c *Conn) setReason(reason error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason == nil {
		c.reason = reason
	}
	return c.reason
}

// serve runs the connection: the handshake, the Connect event, the read
// loop, then the teardown and the Disconnect event. It is the connection's
// goroutine, started by the Server or Client through its group.
func (c *Conn) serve(handshake bool) {
	// serve's own frame stays small: an idle connection waits in firstWait
	// on a stack this shallow, which fits the goroutine's first 2 KiB
	// (start's and readLoop's frames are not on it then).
	if !c.start(handshake) {
		c.onEnd(c)
		closeIf(c.closed)
		closeIf(c.ended)
		return
	}
	err := c.firstWait()
	if err == nil {
		err = c.readLoop()
	}
	c.finish(c.setReason(err))
	closeIf(c.ended)
}

// closeIf closes ch unless it is nil (ended and closed are a Client's only).
func closeIf(ch chan struct{}) {
	if ch != nil {
		close(ch)
	}
}

// writerEvents is the Conn as its sock.Writer's Events.
type writerEvents Conn

func (e *writerEvents) Progressed() { (*Conn)(e).progress(time.Now()) }
func (e *writerEvents) Full()       { (*Conn)(e).noteFull() }

// start does the handshake and produces the Connect event;
// it returns false if the connection was refused.
func (c *Conn) start(handshake bool) bool {
	if admit := c.h.admit; admit != nil {
		err := admit(c)
		// A drain or stop that came meanwhile woke the PROXY header's read
		// with a past deadline (which admitting then cleared): not a
		// refusal; the connection ends here, unserved.
		if serr := c.stopping(); serr != nil {
			c.kill(serr)
			return false
		}
		if err != nil {
			c.kill(err)
			if err != errHealthCheck {
				c.h.logConn(slog.LevelInfo, "refused", c, err)
				c.h.emitError(&ConnError{Conn: c, Remote: c.remote, Err: err})
			}
			return false
		}
	}
	if handshake {
		if err := c.h.handshake(c.ctx, c.nc.(*tls.Conn)); err != nil {
			c.h.st.rejectedTLS.Add(1)
			c.kill(err) // never reached Connects: nothing was sent on it
			c.h.logConn(slog.LevelInfo, "tls handshake failed", c, err)
			c.h.emitError(&ConnError{Conn: c, Remote: c.remote, Err: err})
			return false
		}
	}
	c.h.st.accepted.Add(1)
	c.h.st.open.Add(1)
	c.h.logConn(slog.LevelDebug, "connected", c, nil)
	c.live.Store(true)
	c.h.emitConnect(c)
	return true
}

// handshake does tc's TLS handshake, bounded by ctx and HandshakeTimeout.
func (h *hub) handshake(ctx context.Context, tc *tls.Conn) error {
	if t := h.opts.HandshakeTimeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		return errs.Because(ErrTLSHandshake, err)
	}
	return nil
}

// finish flushes the send queue (unless killed), closes the socket and
// produces the Disconnect.
func (c *Conn) finish(reason error) {
	c.mu.Lock()
	if c.sendErr == nil {
		c.sendErr = errs.Because(ErrClosed, reason)
	}
	c.wstop = true
	c.room.Broadcast()
	c.mu.Unlock()
	c.waitWriter() // it drains what is queued, bounded by WriteTimeout
	level := slog.LevelDebug
	if isFailure(reason) {
		level = slog.LevelInfo
		c.closeHard() // no TLS close_notify to a peer that failed
	} else {
		_ = c.nc.Close()
	}
	c.cancel(reason)
	c.h.st.open.Add(-1)
	c.live.Store(false)
	c.h.logConn(level, "disconnected", c, reason)
	closeIf(c.closed)
	c.waitDelivered() // order.go
	c.h.emitDisconnect(c, reason)
	// Only now give back the connection's slot: the Disconnect comes before
	// the Connect of a connection that takes its place.
	c.onEnd(c)
}

// isFailure reports whether a Disconnect reason is a failure (logged at
// Info, no TLS close_notify): everything but the orderly ends.
func isFailure(reason error) bool {
	if errors.Is(reason, io.ErrUnexpectedEOF) {
		return true // the peer closed in the middle of a frame
	}
	for _, ok := range []error{errPeerClosed, errKicked, ErrServerClosed, errClientClosed} {
		if errors.Is(reason, ok) {
			return false
		}
	}
	return true
}

// classify turns a socket error into a reason: timeout for a deadline that
// expired, ErrConnReset (wrapping the error) for any other failure.
func classify(err, timeout error) error {
	switch {
	case errors.Is(err, io.EOF):
		return errPeerClosed
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errs.Because(errPeerClosed, err) // mid-record (TLS)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errs.Because(timeout, err)
	}
	return errs.Because(ErrConnReset, err)
}
