package simplesockets

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Conn is one connection of a Server or a Client.
//
// All methods are safe for concurrent use. A Conn stays a valid value after
// the connection has ended (Messages and Disconnects refer to it): Send then
// returns an error matching ErrClosed, and Close does nothing.
//
// Each connection has one reader goroutine, which also delivers its
// Messages and its Connect and Disconnect events. A server writes its plain
// connections from one flusher goroutine; a connection gets a writer
// goroutine of its own only while its peer does not keep up (and always for
// TLS and for a Client), and that goroutine exits when the queue is empty.
type Conn struct {
	id     uint64
	nc     net.Conn
	h      *hub
	remote net.Addr
	local  net.Addr
	ctx    context.Context
	cancel context.CancelCauseFunc
	onEnd  func(*Conn) // the owner's bookkeeping, run once the Disconnect is sent
	ended  chan struct{}

	draining atomic.Bool // stop reading; set with a past read deadline
	live     atomic.Bool // produced on Connects and not yet ended
	parked   atomic.Bool // no goroutine: waiting in the server's idle poller (park.go)
	wakeReq  atomic.Bool // kill or beginDrain ran: a parked connection must resume
	resume   func()      // starts readRest on a goroutine of the owner's group; nil: never parks

	mu         sync.Mutex
	room       sync.Cond       // signalled when the queue shrinks or sending stops
	wbuf       []byte          // encoded frames waiting to be written (from bufpool)
	queuedMsgs int             // messages in wbuf
	inflight   int             // bytes taken from wbuf and not yet written
	writing    bool            // a writer goroutine owns the socket's write side
	flushing   bool            // the server's flusher is writing this connection
	queued     bool            // the connection is in the flusher's queue
	rest       []byte          // what a partial non-blocking write left, for the writer
	restBuf    []byte          // the pooled buffer rest belongs to
	restMsgs   int             // messages in rest
	wdeadline  time.Time       // when a writer last set the write deadline (writers run one at a time; cleared under mu)
	raw        syscall.RawConn // for non-blocking writes; nil for TLS and foreign conns
	tw         rawWrite        // tryWrite's state, used by flush only (one at a time: flushing)
	sendErr    error           // non-nil: Send refuses with this
	killed     bool            // kill was called: the writer stops, queued data is dropped
	refused    bool            // ended before Connects (handshake, OnConnect)
	reason     error           // why the connection ends (first one wins)
	writers    sync.WaitGroup
}

func newConn(h *hub, parent context.Context, nc net.Conn, onEnd func(*Conn)) *Conn {
	c := &Conn{
		id:     h.nextID.Add(1),
		nc:     nc,
		h:      h,
		remote: nc.RemoteAddr(),
		local:  nc.LocalAddr(),
		onEnd:  onEnd,
		ended:  make(chan struct{}),
	}
	c.room.L = &c.mu
	c.ctx, c.cancel = context.WithCancelCause(parent)
	if sc, ok := nc.(syscall.Conn); ok && h.fl != nil && rawIO {
		c.raw, _ = sc.SyscallConn()
		c.tw.fn = c.tw.write
	}
	return c
}

// ID is a number unique among the connections of one Server or Client,
// starting at 1 in the order connections were accepted or dialled.
func (c *Conn) ID() uint64 { return c.id }

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// LocalAddr is this side's address.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// Context is cancelled when the connection begins to be torn down hard or
// has ended; context.Cause then reports the reason (the same error as the
// Disconnect's Err).
func (c *Conn) Context() context.Context { return c.ctx }

// Done is closed once the connection has ended and its Disconnect has been
// produced (or dropped, see the package doc).
func (c *Conn) Done() <-chan struct{} { return c.ended }

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

// Queued returns the bytes and messages queued for sending and not yet
// handed to the socket (bytes include those being written right now).
func (c *Conn) Queued() (bytes, messages int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.wbuf) + c.inflight, c.queuedMsgs
}

// Send queues data, framed by the connection's Framing, for writing. It
// copies data, which the caller may reuse as soon as Send returns, with one
// exception: a Message.Data that arrived on this connection is the
// package's once Send has returned nil (see Message.Data and the package
// documentation, "Ownership"), unless Options.KeepData is set. Messages
// are written in the order of the Send calls that queued them; several
// queued messages go out in one write.
//
// When the queue holds MaxQueuedBytes, Send follows the SendPolicy. It
// returns an error matching ErrClosed once the connection is closing or has
// ended (wrapping the reason), ErrMessageTooLarge or ErrInvalidMessage if the
// framing cannot encode data, and ErrSendQueueFull under the Fail and
// Disconnect policies. A nil error means queued, not delivered.
func (c *Conn) Send(data []byte) error {
	if err := c.send(data); err != nil {
		return err
	}
	lent.reclaim(data, c)
	return nil
}

// Close ends the connection gracefully: it stops reading, delivers the
// messages already read, writes what is queued (bounded by WriteTimeout),
// then closes the socket; the Disconnect's reason is ErrKicked. Close does
// not wait for that (so it can be called from the loop that reads
// Messages); Done is closed when it is over. Delivering the messages already
// read waits for room on Messages, so if nobody reads Messages the
// connection ends only when the server or client is closed. Close is
// idempotent and returns nil.
func (c *Conn) Close() error {
	c.beginDrain(ErrKicked)
	return nil
}

// kill ends the connection now: sends fail, pending deliveries are
// discarded, the socket is closed (which unblocks the reader and writer).
func (c *Conn) kill(reason error) {
	c.mu.Lock()
	c.killLocked(reason)
	c.mu.Unlock()
	c.closeHard()
	c.wake()
}

// closeHard closes the socket at once. For TLS it closes the TCP connection
// underneath: tls.Conn.Close would first wait for a blocked write to send
// its close_notify.
func (c *Conn) closeHard() {
	if tc, ok := c.nc.(*tls.Conn); ok {
		_ = tc.NetConn().Close()
		return
	}
	_ = c.nc.Close()
}

// killLocked marks the connection killed; the caller closes the socket
// (closeHard) after releasing c.mu.
func (c *Conn) killLocked(reason error) {
	if c.reason == nil {
		c.reason = reason
	}
	if c.sendErr == nil {
		c.sendErr = because(ErrClosed, c.reason)
	}
	c.killed = true
	c.room.Broadcast()
	c.cancel(c.reason)
}

// beginDrain makes the reader stop after the read in progress; serve then
// delivers what was read, flushes the send queue and closes.
func (c *Conn) beginDrain(reason error) {
	c.mu.Lock()
	if c.reason == nil {
		c.reason = reason
	}
	c.mu.Unlock()
	c.draining.Store(true)
	_ = c.nc.SetReadDeadline(time.Unix(1, 0))
	c.wake()
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
	if handshake {
		if err := c.handshake(); err != nil {
			c.h.st.rejectedTLS.Add(1)
			c.refuse(err)
			c.h.logConn(slog.LevelInfo, "tls handshake failed", c, err)
			c.h.emitError(&ConnError{Conn: c, Remote: c.remote, Err: err})
			c.onEnd(c)
			close(c.ended)
			return
		}
	}
	if hook := c.h.opts.OnConnect; hook != nil {
		var herr error
		if perr := safeCall(func() { herr = hook(c) }); perr != nil {
			herr = perr
		}
		if herr != nil {
			c.refuse(herr)
			c.h.logConn(slog.LevelInfo, "refused by OnConnect", c, herr)
			c.h.emitError(&ConnError{Conn: c, Remote: c.remote, Err: herr})
			c.onEnd(c)
			close(c.ended)
			return
		}
	}
	c.h.st.accepted.Add(1)
	c.h.st.open.Add(1)
	c.h.logConn(slog.LevelDebug, "connected", c, nil)
	c.live.Store(true)
	c.h.emitConnect(c)
	if c.park() {
		return // the idle poller, or whatever ends the connection, resumes it
	}
	c.readRest(c.firstWait())
}

// readRest is the rest of the connection's life: the read loop (pending as
// for readLoop), the teardown and the Disconnect event. It runs on the
// connection's goroutine, or on a new one when a parked connection resumes.
func (c *Conn) readRest(pending error) {
	readErr := c.readLoop(pending)
	c.finish(c.setReason(readErr))
	close(c.ended)
}

// refuse ends a connection that never reached Connects (failed handshake,
// OnConnect said no): killed, not live, and with no writer left (OnConnect
// may have called Send).
func (c *Conn) refuse(err error) {
	c.mu.Lock()
	c.refused = true
	c.mu.Unlock()
	c.kill(err)
	c.live.Store(false)
	c.writers.Wait()
}

func (c *Conn) handshake() error {
	tc := c.nc.(*tls.Conn)
	ctx := c.ctx
	if t := c.h.opts.HandshakeTimeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		return because(ErrTLSHandshake, err)
	}
	return nil
}

// finish flushes the send queue (unless killed), closes the socket and
// produces the Disconnect.
func (c *Conn) finish(reason error) {
	c.mu.Lock()
	if c.sendErr == nil {
		c.sendErr = because(ErrClosed, reason)
	}
	for c.flushing {
		c.room.Wait() // a non-blocking write: short
	}
	if !c.killed && !c.writing && len(c.wbuf) > 0 {
		c.startWriterLocked() // drains what is queued, bounded by WriteTimeout
	}
	c.room.Broadcast()
	c.mu.Unlock()
	c.writers.Wait()
	if isFailure(reason) {
		c.closeHard() // no TLS close_notify to a peer that failed
	} else {
		_ = c.nc.Close()
	}
	c.cancel(reason)
	c.h.st.open.Add(-1)
	c.live.Store(false)
	c.h.ended.Store(true)
	if isFailure(reason) {
		c.h.logConn(slog.LevelInfo, "disconnected", c, reason)
		c.h.emitError(&ConnError{Conn: c, Remote: c.remote, Err: reason})
	} else {
		c.h.logConn(slog.LevelDebug, "disconnected", c, reason)
	}
	if hook := c.h.opts.OnDisconnect; hook != nil {
		if perr := safeCall(func() { hook(Disconnect{Conn: c, Err: reason}) }); perr != nil {
			c.h.emitError(&ConnError{Conn: c, Remote: c.remote, Err: perr})
		}
	}
	c.h.emitDisconnect(c, reason)
	// Only now give back the connection's slot: the Disconnect comes before
	// the Connect of a connection that takes its place.
	c.onEnd(c)
}

// safeCall runs a user hook and turns a panic into an ErrHookPanic error.
func safeCall(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrHookPanic, r)
		}
	}()
	f()
	return nil
}

// isFailure reports whether a Disconnect reason is also reported on Errors:
// everything but the orderly ends.
func isFailure(reason error) bool {
	if errors.Is(reason, io.ErrUnexpectedEOF) {
		return true // the peer closed in the middle of a frame
	}
	for _, ok := range []error{ErrPeerClosed, ErrKicked, ErrServerClosed, ErrClientClosed} {
		if errors.Is(reason, ok) {
			return false
		}
	}
	return true
}

// classify turns a socket error into a reason. timeout is the reason for a
// deadline that expired.
func classify(err, timeout error) error {
	switch {
	case errors.Is(err, io.EOF):
		return because(ErrPeerClosed, io.EOF)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return because(ErrConnReset, err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return because(timeout, err)
	}
	return err
}

// firstWait waits, on a shallow stack and without a read buffer, until the
// connection has something to read: a connection that stays idle from the
// start then costs a goroutine of the minimum stack size and no buffer. It
// returns the error to report instead of reading (a reset, a deadline).
func (c *Conn) firstWait() error {
	if c.raw == nil {
		return nil
	}
	if err := c.setReadDeadline(false, time.Time{}); err != nil {
		return err
	}
	if c.draining.Load() || c.ctx.Err() != nil {
		return nil // readLoop sees it
	}
	return c.waitReadable()
}

// handOver makes the frames (sub-slices of buf[first:start]) independent of
// buf, so the application owns them. If they fill nearly all the buffer,
// the buffer itself is handed over and a new one takes the unconsumed tail;
// otherwise the consumed bytes are copied into one exact-size allocation
// (copying is cheaper than the garbage of a half-used buffer). Either way,
// one allocation per read, however many frames it held.
func handOver(buf []byte, first, start, end int, frames [][]byte, newBuf func(n int) []byte) ([]byte, int, int) {
	if 8*(start-first) >= 7*len(buf) {
		nb := newBuf(end - start)
		n := copy(nb, buf[start:end])
		return nb, 0, n
	}
	region := buf[first:start]
	cp := append([]byte(nil), region...) // not zeroed first, unlike make
	base := uintptr(unsafe.Pointer(unsafe.SliceData(region)))
	for i, f := range frames {
		if len(f) == 0 {
			frames[i] = cp[:0:0]
			continue
		}
		off := int(uintptr(unsafe.Pointer(unsafe.SliceData(f))) - base)
		if off < 0 || off+len(f) > len(region) {
			continue // not a sub-slice of the buffer: the framing's own memory
		}
		frames[i] = cp[off : off+len(f) : off+len(f)]
	}
	return buf, start, end
}

// deliver sends the frames on Messages in order, blocking while the
// application is behind (backpressure). It gives up, counting the rest as
// discarded, if the connection is killed or the owner closes.
// Before it blocks, r leaves its window (flusher).
func (c *Conn) deliver(frames [][]byte, now time.Time, r *reader) bool {
	if hook := c.h.opts.OnMessage; hook != nil {
		for i, f := range frames {
			if err := safeCall(func() { hook(Message{Conn: c, Data: f, Time: now}) }); err != nil {
				c.h.st.msgsIn.Add(uint64(i + 1)) // frame i reached the hook
				c.h.st.discarded.Add(uint64(len(frames) - i - 1))
				c.kill(err)
				return false
			}
		}
		c.h.st.msgsIn.Add(uint64(len(frames)))
		return true
	}
	ch := c.h.messages
	for i, f := range frames {
		m := Message{Conn: c, Data: f, Time: now}
		select {
		case ch <- m:
			continue
		default:
		}
		r.leaveWindow() // replies must not wait for the application to catch up
		select {
		case ch <- m:
		case <-c.ctx.Done():
			c.h.st.msgsIn.Add(uint64(i))
			c.h.st.discarded.Add(uint64(len(frames) - i))
			return false
		case <-c.h.hard:
			c.h.st.msgsIn.Add(uint64(i))
			c.h.st.discarded.Add(uint64(len(frames) - i))
			return false
		}
	}
	c.h.st.msgsIn.Add(uint64(len(frames)))
	return true
}
