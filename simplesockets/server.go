package simplesockets

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/simplesockets/simplesockets-go/internal/listen"
	"github.com/simplesockets/simplesockets-go/internal/sock"
)

// defaultAddr is the address a Server listens on and a Client dials when
// their config leaves Addr empty: the Python package's default port, on the
// loopback interface.
const defaultAddr = "127.0.0.1:25567"

// ServerConfig configures a Server. The zero value works: it listens on
// 127.0.0.1:25567 with Raw framing.
type ServerConfig struct {
	// Network is "tcp" (the default when empty), "tcp4", "tcp6" or "unix".
	Network string

	// Addr is the address to listen on: "host:port" for TCP, a file path
	// for "unix". If empty, 127.0.0.1:25567. Port 0 picks a free port; Addr()
	// reports it once listening. For "unix", a socket file left by a dead
	// process is removed; one a live server answers on is an error.
	Addr string

	// Backlog is the listen(2) backlog: how many connections the kernel
	// completes and holds while the server is not accepting (for instance
	// at MaxConnections). If zero, the system default (net.core.somaxconn);
	// it must not be negative. Applied on Linux only.
	Backlog int

	// MaxConnections caps the open connections. At the cap the server stops
	// accepting (the slot is taken before Accept), so further clients wait
	// in the kernel's backlog, and accepting resumes when one leaves. Zero
	// means no limit; it must not be negative.
	MaxConnections int

	// MaxConnectionsPerIP caps the open connections from one remote IP;
	// a connection over the cap is closed right after accept, before any
	// per-connection state exists, and reported on Errors (ErrConnLimit).
	// Zero means no limit; it must not be negative.
	MaxConnectionsPerIP int

	// MaxTotalPendingBytes bounds the bytes of messages read from all
	// connections and not yet received from Messages. When it is reached,
	// readers stop reading their sockets until the application has received
	// some (one larger message is still delivered when nothing else is
	// pending). Each connection is also held to Options.MaxPendingBytes, so
	// one flooding peer cannot take it all. If zero,
	// 64 MiB; it must be between 0 and
	// 1 TiB.
	MaxTotalPendingBytes int

	// ShutdownTimeout bounds the graceful stop that the end of Serve's (or
	// ListenAndServe's) context starts: stop accepting, deliver what was
	// read, write what is queued; after it, whatever remains is closed at
	// once. If zero, 5s; a negative value closes at
	// once, with no grace. Shutdown takes its own context instead.
	ShutdownTimeout time.Duration

	// Options are the per-connection settings shared with Client.
	Options
}

// defaultShutdownTimeout is ServerConfig.ShutdownTimeout's default.
const defaultShutdownTimeout = 5 * time.Second

// defaultMaxTotalPendingBytes is ServerConfig.MaxTotalPendingBytes's
// default.
const defaultMaxTotalPendingBytes = 64 << 20

// Server accepts connections and turns them into events on four channels:
// Connects, Disconnects, Messages and Errors.
//
// A Server serves once: after Serve returns, it cannot be started again. All
// methods are safe for concurrent use.
type Server struct {
	cfg ServerConfig
	h   *hub

	mu      sync.Mutex
	lns     []net.Listener
	conns   map[*Conn]struct{}
	perIP   map[string]int
	serving bool
	closing bool          // Shutdown or Close was called
	stopped bool          // killAll ran: no new connections
	cancel  func(error)   // cancels the serving context
	drained chan struct{} // closed when shutting down and the last conn ended
	served  chan struct{} // closed when Serve has returned
	slots   chan struct{} // MaxConnections semaphore, nil if unlimited
}

// NewServer returns a Server for cfg, or an error wrapping ErrInvalidConfig.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Network == "" {
		cfg.Network = "tcp"
	}
	switch cfg.Network {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return nil, fmt.Errorf("%w: network %q (want tcp, tcp4, tcp6 or unix)", ErrInvalidConfig, cfg.Network)
	}
	if cfg.Addr == "" {
		cfg.Addr = defaultAddr
	}
	if cfg.Backlog < 0 || cfg.MaxConnections < 0 || cfg.MaxConnectionsPerIP < 0 {
		return nil, fmt.Errorf("%w: Backlog, MaxConnections and MaxConnectionsPerIP must not be negative", ErrInvalidConfig)
	}
	if cfg.MaxTotalPendingBytes < 0 || cfg.MaxTotalPendingBytes > maxByteLimit {
		return nil, invalid("MaxTotalPendingBytes %d is not between 0 and %d", cfg.MaxTotalPendingBytes, maxByteLimit)
	}
	opts, err := cfg.Options.resolve(true)
	if err != nil {
		return nil, err
	}
	if opts.TLSConfig != nil && len(opts.TLSConfig.Certificates) == 0 && opts.TLSConfig.GetCertificate == nil && opts.TLSConfig.GetConfigForClient == nil {
		return nil, fmt.Errorf("%w: TLSConfig has no certificate", ErrInvalidConfig)
	}
	s := &Server{
		cfg:    cfg,
		h:      newHub(opts, ErrServerClosed, cmp0(cfg.MaxTotalPendingBytes, defaultMaxTotalPendingBytes)),
		conns:  make(map[*Conn]struct{}),
		perIP:  make(map[string]int),
		served: make(chan struct{}),
	}
	if cfg.MaxConnections > 0 {
		s.slots = make(chan struct{}, cfg.MaxConnections)
	}
	return s, nil
}

// Connects delivers each connection once it is set up (after the TLS
// handshake, if any). Its buffer holds EventBuffer connections. The Server
// closes it when Serve returns (after Shutdown, Close or the context's end),
// after the last connection goroutine has ended. See "Lifecycle events" in
// the package doc for what happens when nobody reads it.
func (s *Server) Connects() <-chan *Conn {
	s.h.subConnects.Store(true)
	return s.h.connects
}

// Disconnects delivers one Disconnect for every connection delivered on
// Connects, after all of that connection's Messages have been sent. Its
// buffer holds EventBuffer events; the Server closes it when Serve returns.
func (s *Server) Disconnects() <-chan Disconnect {
	s.h.subDisconnects.Store(true)
	return s.h.disconnects
}

// Messages delivers every message received, in order per connection. Its
// buffer holds MessageBuffer messages; when it is full, connections stop
// reading their sockets until there is room (TCP backpressure). The Server
// closes it when Serve returns.
func (s *Server) Messages() <-chan Message {
	s.h.subMessages.Store(true)
	return s.h.in.ch
}

// Errors delivers what has no Disconnect: a *ConnError for each
// connection refused before it reached Connects (failed TLS handshake,
// MaxConnectionsPerIP) and errors of the accept loop. A connection's own
// failure (reset, timeout, oversize frame...) is reported once, as its
// Disconnect's Err, never here too. Its buffer holds EventBuffer errors;
// the Server closes it when Serve returns.
func (s *Server) Errors() <-chan error {
	s.h.subErrors.Store(true)
	return s.h.errs
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats { return s.h.stats() }

// Listen opens the listener of the configured Network and Addr (with
// Backlog), so that Addr is known before Serve is called without
// listeners. ListenAndServe calls it.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return ErrServerClosed
	}
	if len(s.lns) > 0 {
		return ErrAlreadyStarted
	}
	ln, err := listen.Listen(context.Background(), s.cfg.Network, s.cfg.Addr, s.cfg.Backlog, s.h.opts.KeepAlive)
	if err != nil {
		return fmt.Errorf("simplesockets: listen %s %s: %w", s.cfg.Network, s.cfg.Addr, err)
	}
	s.lns = []net.Listener{ln}
	return nil
}

// ListenAndServe listens on the configured address (unless Listen was
// called already) and serves until ctx ends (then it stops gracefully, for
// at most ShutdownTimeout), Shutdown or Close is called, or the listener
// fails. Every normal stop returns an error matching ErrServerClosed (see
// Serve); a failure returns the error.
func (s *Server) ListenAndServe(ctx context.Context) error {
	s.mu.Lock()
	have := len(s.lns) > 0
	s.mu.Unlock()
	if !have {
		if err := s.Listen(); err != nil {
			if errors.Is(err, ErrServerClosed) {
				s.h.closeChannels()
			}
			return err
		}
	}
	return s.Serve(ctx)
}

// Addr returns the address of the first listener (the one opened by
// Listen, or the first passed to Serve), or nil before either.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.lns) == 0 {
		return nil
	}
	return s.lns[0].Addr()
}

// Serve accepts connections on every listener in lns (TCP, Unix, TLS or
// any net.Listener; one set of channels, one Stats and one Shutdown for
// all), or, with none, on the listener opened by Listen, until ctx ends, Shutdown or Close is called, or an Accept fails
// with a permanent error. The Server takes ownership of the listeners and
// closes them.
//
// When ctx ends, the server stops gracefully, as Shutdown does, for at most
// ShutdownTimeout; then it closes what remains.
//
// When Serve returns, every goroutine of the server has ended, every
// connection has produced its Disconnect and the four channels are closed.
// Every normal stop returns an error matching ErrServerClosed: after
// Shutdown or Close, ErrServerClosed itself; when ctx ended, an error that
// also matches context.Cause(ctx). A failing listener returns the accept
// error. A Server serves once: a second Serve returns ErrAlreadyStarted
// while the first runs and ErrServerClosed after it.
func (s *Server) Serve(ctx context.Context, lns ...net.Listener) error {
	s.mu.Lock()
	switch {
	case s.closing:
		s.mu.Unlock()
		closeAll(lns)
		s.h.closeChannels()
		return ErrServerClosed
	case s.serving:
		s.mu.Unlock()
		select {
		case <-s.served:
			return ErrServerClosed
		default:
			return ErrAlreadyStarted
		}
	case slices.Contains(lns, nil) || len(lns) == 0 && len(s.lns) == 0:
		s.mu.Unlock()
		closeAll(lns)
		return fmt.Errorf("%w: Serve needs listeners (or Listen first), and no nil one", ErrInvalidConfig)
	case len(lns) > 0 && len(s.lns) > 0:
		s.mu.Unlock()
		closeAll(lns)
		return fmt.Errorf("%w: Listen was called already", ErrAlreadyStarted)
	}
	if len(lns) > 0 {
		s.lns = slices.Clone(lns)
	}
	lns = s.lns
	s.serving = true
	// ctx's end does not cancel the serving context directly: it starts a
	// graceful stop (below), which cancels it when done.
	sctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.mu.Unlock()

	g, gctx := errgroup.WithContext(sctx)
	s.h.spawn = func(f func()) { g.Go(func() error { f(); return nil }) }
	for _, ln := range lns {
		g.Go(func() error { return s.acceptLoop(gctx, g, ln) })
	}
	g.Go(func() error {
		<-gctx.Done()
		s.killAll(ErrServerClosed)
		return nil
	})
	g.Go(func() error {
		select {
		case <-ctx.Done():
			t := cmp0(s.cfg.ShutdownTimeout, defaultShutdownTimeout)
			grace, stop := context.WithTimeout(context.Background(), max(t, 0))
			s.drain(grace)
			stop()
		case <-gctx.Done():
		}
		return nil
	})
	err := g.Wait()
	cancel(nil)
	s.h.closeChannels()
	close(s.served)

	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return because(ErrServerClosed, context.Cause(ctx))
	}
	return ErrServerClosed
}

func (s *Server) acceptLoop(ctx context.Context, g *errgroup.Group, ln net.Listener) error {
	handshake := s.h.opts.TLSConfig != nil
	var delay time.Duration
	for {
		if s.slots != nil {
			select {
			case s.slots <- struct{}{}:
			case <-ctx.Done():
				return nil
			}
		}
		nc, err := ln.Accept()
		if err != nil {
			s.releaseSlot()
			if ctx.Err() != nil || s.isClosing() {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("simplesockets: accept: %w", err)
			}
			// Out of file descriptors and the like: report, back off, retry.
			s.h.emitError(fmt.Errorf("simplesockets: accept: %w", err))
			s.h.logErr("accept failed", err)
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil
			}
			continue
		}
		delay = 0
		ip := remoteIP(nc.RemoteAddr())
		if !s.admitIP(ip) {
			s.h.st.rejectedIP.Add(1)
			remote := nc.RemoteAddr()
			nc.Close()
			s.releaseSlot()
			s.h.emitError(&ConnError{Remote: remote, Err: fmt.Errorf("%w: %d connections from %s", ErrConnLimit, s.cfg.MaxConnectionsPerIP, ip)})
			continue
		}
		pc := sock.NewWriter(nc)
		if handshake {
			nc = tls.Server(pc, s.h.opts.TLSConfig)
		}
		c := newConn(s.h, ctx, nc, pc, func(c *Conn) { s.untrack(c, ip) })
		if !s.track(c) {
			nc.Close()
			s.untrackIP(ip)
			s.releaseSlot()
			continue
		}
		g.Go(func() error {
			c.serve(handshake)
			return nil
		})
	}
}

func remoteIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	return ""
}

// admitIP counts a connection from ip, unless ip is at its cap.
func (s *Server) admitIP(ip string) bool {
	if s.cfg.MaxConnectionsPerIP <= 0 || ip == "" {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perIP[ip] >= s.cfg.MaxConnectionsPerIP {
		return false
	}
	s.perIP[ip]++
	return true
}

func (s *Server) untrackIP(ip string) {
	if s.cfg.MaxConnectionsPerIP <= 0 || ip == "" {
		return
	}
	s.mu.Lock()
	s.untrackIPLocked(ip)
	s.mu.Unlock()
}

// untrackIPLocked forgets one connection from ip. s.mu must be held.
func (s *Server) untrackIPLocked(ip string) {
	if s.cfg.MaxConnectionsPerIP <= 0 || ip == "" {
		return
	}
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
}

func (s *Server) releaseSlot() {
	if s.slots != nil {
		<-s.slots
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// track registers c, unless the server is shutting down.
func (s *Server) track(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || s.stopped {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// untrack is a connection's onEnd: it runs exactly once per tracked conn.
func (s *Server) untrack(c *Conn, ip string) {
	s.mu.Lock()
	delete(s.conns, c)
	s.untrackIPLocked(ip)
	if s.drained != nil && len(s.conns) == 0 {
		close(s.drained)
		s.drained = nil
	}
	s.mu.Unlock()
	s.releaseSlot()
}

// killAll closes the listener and every connection at once.
func (s *Server) killAll(reason error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	s.closeListeners()
	for c := range s.conns {
		c.kill(reason) // records the reason before anything wakes the reader
	}
	s.h.goHard()
}

// closeListeners closes every listener. s.mu must be held.
func (s *Server) closeListeners() { closeAll(s.lns) }

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		if ln != nil {
			ln.Close()
		}
	}
}

// Shutdown stops the server gracefully: it closes the listener, makes every
// connection stop reading, delivers the messages already read, writes what
// is queued, closes the connections and waits for Serve's goroutines to end.
// If ctx ends first, it closes everything at once (as Close) and returns
// ctx's error. Shutdown never waits for a peer longer than ctx allows.
// Serve returns ErrServerClosed. Calling Shutdown again is harmless.
func (s *Server) Shutdown(ctx context.Context) error {
	err, serving := s.drain(ctx)
	if serving {
		<-s.served
	}
	return err
}

// drain is Shutdown but for waiting for Serve to return: it stops
// accepting, drains the connections until they have ended or ctx ends, and
// then ends serving (which closes what remains). serving says whether Serve
// had started.
func (s *Server) drain(ctx context.Context) (err error, serving bool) {
	s.mu.Lock()
	s.closing = true
	if !s.serving {
		s.closeListeners()
		s.mu.Unlock()
		s.h.closeChannels()
		return nil, false
	}
	s.closeListeners()
	for c := range s.conns {
		c.beginDrain(ErrServerClosed)
	}
	var drained chan struct{}
	if len(s.conns) > 0 {
		if s.drained == nil {
			s.drained = make(chan struct{})
		}
		drained = s.drained
	}
	s.mu.Unlock()

	if drained != nil {
		select {
		case <-drained:
		case <-s.served:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	s.cancel(ErrServerClosed) // closes what remains
	return err, true
}

// Close closes the listener and every connection at once, without flushing
// queued sends, and waits for Serve's goroutines to end. Messages already
// read but not yet delivered are discarded (counted in
// Stats.MessagesDiscarded). Serve returns ErrServerClosed. Close is
// idempotent and returns nil.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closing = true
	serving := s.serving
	if !serving {
		s.closeListeners()
	}
	s.mu.Unlock()
	if !serving {
		s.h.closeChannels()
		return nil
	}
	s.cancel(ErrServerClosed) // the watcher kills every connection, then goes hard
	<-s.served
	return nil
}

// Conns returns a snapshot of the open connections (those produced on
// Connects and not yet ended), ordered by ID.
func (s *Server) Conns() []*Conn {
	s.mu.Lock()
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		if c.live.Load() {
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(conns, func(a, b *Conn) int { return cmp.Compare(a.id, b.id) })
	return conns
}

// Broadcast sends data to every open connection. It returns nil if every
// Send succeeded, and otherwise the Send errors joined (errors.Join), each
// a *ConnError naming its connection. It waits for a peer as Send does: by
// default at most StallTimeout for one that does not read, which is then
// cut off (SendQueueBlock waits as long as WriteTimeout allows). It copies
// data: the caller may use it again as soon as Broadcast returns.
func (s *Server) Broadcast(data []byte) error {
	var errs []error
	for _, c := range s.Conns() {
		if err := c.Send(data); err != nil {
			errs = append(errs, &ConnError{Conn: c, Remote: c.remote, Err: err})
		}
	}
	return errors.Join(errs...)
}
