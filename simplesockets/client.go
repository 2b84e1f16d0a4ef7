package simplesockets

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/simplesockets/simplesockets-go/internal/errs"
	"github.com/simplesockets/simplesockets-go/internal/sock"
	"golang.org/x/sync/errgroup"
)

// ClientConfig configures a Client. The zero value works: it dials
// 127.0.0.1:25567 with Raw framing.
type ClientConfig struct {
	// Network is "tcp" (the default when empty), "tcp4", "tcp6" or "unix".
	Network string

	// Addr is the server's address: "host:port", or a path for "unix".
	// If empty, 127.0.0.1:25567 (the Python package's default port).
	Addr string

	// Reconnect, if Enabled, redials automatically after a connection ends
	// by anything but Close or Reconnect.
	Reconnect ReconnectPolicy

	// Options are the per-connection settings shared with Server. With
	// TLSConfig set and its ServerName empty, the host of Addr is used.
	Options
}

// ReconnectPolicy is the Client's automatic reconnection: exponential
// backoff with jitter. Each failed attempt is reported on Errors as a
// *ReconnectError; a success produces the new connection on Connects and
// counts in Stats.Reconnects. Close stops it at once, also in the middle of a
// wait or a dial.
type ReconnectPolicy struct {
	// Enabled turns automatic reconnection on. The zero value is off.
	Enabled bool
	// MinDelay is the wait before the first attempt; each failure doubles
	// it. If zero, 100ms.
	MinDelay time.Duration
	// MaxDelay caps the wait between attempts. If zero, 30s.
	MaxDelay time.Duration
	// MaxAttempts is how many failed attempts in a row end the reconnection
	// (reported as a *ReconnectError with GaveUp set). Zero means no limit.
	MaxAttempts int
}

// ReconnectError reports a failed automatic reconnection attempt on the
// Client's Errors channel (errors.As finds it). Its Err, which Unwrap
// returns, is the dial error.
type ReconnectError struct {
	Attempt int           // 1 for the first attempt after a disconnect
	Next    time.Duration // the wait before the next attempt (0 if GaveUp)
	GaveUp  bool          // MaxAttempts reached: no more attempts
	Err     error
}

// Error implements error.
func (e *ReconnectError) Error() string {
	if e.GaveUp {
		return fmt.Sprintf("simplesockets: reconnect attempt %d failed, giving up: %v", e.Attempt, e.Err)
	}
	return fmt.Sprintf("simplesockets: reconnect attempt %d failed, next in %v: %v", e.Attempt, e.Next, e.Err)
}

// Unwrap returns the dial error.
func (e *ReconnectError) Unwrap() error { return e.Err }

// Client is a connection to a server, with the same four channels as a
// Server. A Client holds at most one connection at a time; Reconnect
// replaces it, and the channels carry the events of every connection the
// Client had. Close ends the Client for good and closes the channels.
//
// All methods are safe for concurrent use.
type Client struct {
	channels // Connects, Disconnects, Messages, Errors, Stats
	cfg      ClientConfig
	tls      *tls.Config

	life   context.Context // parent of every connection; cancelled by Close
	cancel context.CancelFunc
	retry  context.Context // ends automatic reconnection; cancelled first by Close
	noMore context.CancelFunc
	g      errgroup.Group // one goroutine per connection

	mu     sync.Mutex
	conn   *Conn
	closed bool
	cur    atomic.Pointer[Conn] // conn, readable without mu (Close must not wait for a dial)
}

// NewClient returns an unconnected Client for cfg, or an error wrapping
// ErrInvalidConfig. Call Connect to dial.
func NewClient(cfg ClientConfig) (*Client, error) {
	var err error
	if cfg.Network, cfg.Addr, err = checkNetwork(cfg.Network, cfg.Addr); err != nil {
		return nil, err
	}
	opts, err := cfg.Options.resolve(false)
	if err != nil {
		return nil, err
	}
	c := &Client{channels: channels{newHub(opts, errClientClosed, opts.MaxPendingBytes)}, cfg: cfg}
	c.h.spawn = func(f func()) { c.g.Go(func() error { f(); return nil }) }
	if opts.TLSConfig != nil {
		c.tls = opts.TLSConfig.Clone()
		if c.tls.ServerName == "" && cfg.Network != "unix" {
			if host, _, err := net.SplitHostPort(cfg.Addr); err == nil {
				c.tls.ServerName = host
			}
		}
	}
	switch r := cfg.Reconnect; {
	case r.MinDelay < 0 || r.MaxDelay < 0 || r.MaxAttempts < 0:
		return nil, invalid("negative Reconnect setting")
	case r.MaxDelay > 0 && r.MinDelay > r.MaxDelay:
		return nil, invalid("Reconnect.MinDelay %v is over MaxDelay %v", r.MinDelay, r.MaxDelay)
	}
	c.cfg.Reconnect.MinDelay = cmp.Or(cfg.Reconnect.MinDelay, 100*time.Millisecond)
	c.cfg.Reconnect.MaxDelay = cmp.Or(cfg.Reconnect.MaxDelay, 30*time.Second)
	c.life, c.cancel = context.WithCancel(context.Background())
	c.retry, c.noMore = context.WithCancel(c.life)
	return c, nil
}

// Dial is NewClient followed by Connect. The returned Client is connected;
// on error no Client is returned and nothing is left running.
func Dial(ctx context.Context, cfg ClientConfig) (*Client, error) {
	c, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	if err := c.Connect(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Connect dials the server (and does the TLS handshake). ctx bounds the dial
// and the handshake only, as with net.Dialer.DialContext: once connected,
// its end does not affect the connection; Close does. Connect returns
// ErrAlreadyStarted if the Client is connected, ErrClosed after Close.
func (c *Client) Connect(ctx context.Context) error {
	if c.h == nil {
		return errZero
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.conn != nil && c.conn.live.Load() {
		return ErrAlreadyStarted
	}
	return c.connectLocked(ctx, false)
}

// connectLocked dials and starts a connection. c.mu must be held.
func (c *Client) connectLocked(ctx context.Context, again bool) error {
	// Close cancels c.retry: it must not wait for a dial or handshake.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(c.retry, cancel)()
	d := net.Dialer{KeepAlive: c.h.opts.KeepAlive}
	nc, err := d.DialContext(ctx, c.cfg.Network, c.cfg.Addr)
	if err != nil {
		return fmt.Errorf("simplesockets: dial %s %s: %w", c.cfg.Network, c.cfg.Addr, err)
	}
	pc := sock.NewWriter(nc)
	if c.tls != nil {
		tc := tls.Client(pc, c.tls)
		if err := c.h.handshake(ctx, tc); err != nil {
			nc.Close()
			return fmt.Errorf("simplesockets: dial %s: %w", c.cfg.Addr, err)
		}
		nc = tc
	}
	conn := newConn(c.h, c.life, nc, pc, func(*Conn) {})
	conn.ended, conn.closed = make(chan struct{}), make(chan struct{})
	conn.live.Store(true) // connected as far as the caller can tell
	c.conn = conn
	c.cur.Store(conn)
	if again {
		c.h.st.reconnects.Add(1)
	}
	c.h.spawn(func() {
		conn.serve(false)
		c.autoReconnect(conn)
	})
	return nil
}

// autoReconnect runs on the goroutine of a connection that has ended: if the
// policy says so, it redials with backoff until it succeeds, gives up, or
// the Client is closed or reconnected by hand.
func (c *Client) autoReconnect(old *Conn) {
	p := c.cfg.Reconnect
	if !p.Enabled || errors.Is(context.Cause(old.ctx), errClientClosed) {
		return // closed on purpose
	}
	delay := p.MinDelay
	for attempt := 1; ; attempt++ {
		if !sleep(jitter(delay), c.retry.Done(), nil, nil) {
			return
		}
		c.mu.Lock()
		if c.closed || c.conn != old {
			c.mu.Unlock() // closed, or Reconnect was called meanwhile
			return
		}
		err := c.connectLocked(c.retry, true)
		c.mu.Unlock()
		if err == nil || c.retry.Err() != nil {
			return
		}
		delay = min(2*delay, p.MaxDelay)
		rerr := &ReconnectError{Attempt: attempt, Next: delay, Err: err}
		if p.MaxAttempts > 0 && attempt >= p.MaxAttempts {
			rerr.GaveUp, rerr.Next = true, 0
		}
		c.h.emitError(rerr)
		if rerr.GaveUp {
			return
		}
	}
}

// jitter returns a duration in [d/2, d).
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// Reconnect closes the current connection, if any (gracefully, as
// Conn.Close; its Disconnect's reason matches ErrClosed), waits until its
// socket is closed, and dials again. The old connection's Disconnect comes
// after its last Message, so it may come after the new connection's
// Connect. ctx bounds the wait and the dial; if it ends while the old
// connection is still flushing, that connection is closed at once and
// Reconnect returns ctx's error without dialling.
func (c *Client) Reconnect(ctx context.Context) error {
	if c.h == nil {
		return errZero
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if old := c.conn; old != nil {
		old.beginDrain(errClientClosed)
		select {
		case <-old.closed: // not ended: its Disconnect may wait for the caller to take its Messages
		case <-ctx.Done():
			old.kill(errClientClosed)
			return fmt.Errorf("simplesockets: reconnect: %w", ctx.Err())
		}
	}
	return c.connectLocked(ctx, true)
}

// Send queues data on the current connection (see Conn.Send). It returns
// ErrClosed after Close, and ErrNotConnected when the Client has no open
// connection: before Connect, and once the connection has ended (then the
// error also matches ErrClosed and wraps why it ended), for instance while
// automatic reconnection is under way.
func (c *Client) Send(data []byte) error {
	if c.h == nil {
		return errZero
	}
	c.mu.Lock()
	conn, closed := c.conn, c.closed
	c.mu.Unlock()
	switch {
	case closed:
		c.h.st.sendErrors.Add(1)
		return ErrClosed
	case conn == nil:
		c.h.st.sendErrors.Add(1)
		return ErrNotConnected
	}
	err := conn.Send(data)
	if errors.Is(err, ErrClosed) && !conn.live.Load() {
		return errs.Because(ErrNotConnected, err)
	}
	return err
}

// Conn returns the current (or last) connection, or nil before the first
// Connect.
func (c *Client) Conn() *Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn
}

// Close ends the Client at once: it stops any reconnection, closes the
// connection without writing what is still queued (use Shutdown for that),
// waits for the Client's goroutines and closes the four channels. Messages
// read but not yet delivered, and events that do not fit in their channel,
// are dropped and counted in Stats. Close is idempotent and returns nil.
func (c *Client) Close() error {
	if c.h == nil {
		return errZero
	}
	// First stop a reconnection in progress (its dial holds c.mu) and any
	// blocking delivery (a Reconnect holding c.mu may wait for one).
	c.noMore()
	if conn := c.cur.Load(); conn != nil {
		conn.kill(errClientClosed)
	}
	c.h.goHard()
	c.mu.Lock()
	already := c.closed
	c.closed = true
	conn := c.conn
	c.mu.Unlock()
	if conn != nil && !already {
		conn.kill(errClientClosed) // a connection made meanwhile
	}
	_ = c.g.Wait()
	c.cancel()
	c.h.closeChannels()
	return nil
}

// Shutdown ends the Client gracefully: it stops any reconnection, stops
// reading, delivers the messages already read, writes what is queued and
// closes the connection, then does what Close does. If ctx ends first, it
// closes at once and returns ctx's error. Delivering the messages already
// read waits for room on Messages, so read Messages meanwhile (or let ctx
// bound it).
func (c *Client) Shutdown(ctx context.Context) error {
	if c.h == nil {
		return errZero
	}
	c.noMore()
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	var err error
	if conn != nil {
		conn.beginDrain(errClientClosed)
		select {
		case <-conn.ended:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	c.Close()
	return err
}
