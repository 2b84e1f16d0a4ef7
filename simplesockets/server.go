package simplesockets

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/simplesockets/simplesockets-go/internal/errs"
	"github.com/simplesockets/simplesockets-go/internal/listen"
	"github.com/simplesockets/simplesockets-go/internal/proxyproto"
	"github.com/simplesockets/simplesockets-go/internal/sock"
)

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

	// MaxConnectionsPerIP caps the open connections from one remote IP (the
	// client's, behind a PROXY balancer); a connection over the cap is
	// closed before Connects and reported on Errors (ErrRefused). Zero
	// means no limit; it must not be negative.
	MaxConnectionsPerIP int

	// ProxyTrusted, if not empty, turns on the PROXY protocol (v1, v2): a
	// connection from these balancers must begin with a header (read on its
	// own goroutine, before TLS), whose client address RemoteAddr reports
	// and caps, Stats and logs use; ProxyAddr keeps the balancer's. A LOCAL
	// header (a health check) is closed without a Connect. Anyone else may
	// not send one: its first bytes are peeked at (for at most
	// ProxyHeaderTimeout, which a direct client that does not speak first
	// waits), and a PROXY signature refuses it. Refusals are reported on
	// Errors (ErrRefused) and counted in Stats.RejectedProxy.
	ProxyTrusted []netip.Prefix

	// ProxyOptional lets a trusted source connect without a header.
	ProxyOptional bool

	// ProxyHeaderTimeout bounds the wait for the header. If zero, 3s: a
	// balancer sends it at once, while a silent peer holds a descriptor no
	// longer (none exhausts descriptors; very short ones cut healthy but
	// slow balancers). It must not be negative.
	ProxyHeaderTimeout time.Duration

	// MaxTotalPendingBytes bounds the bytes of messages read from all
	// connections and not yet received from Messages, as
	// Options.MaxPendingBytes does per connection. If zero, 64 MiB; at most
	// 1 TiB.
	MaxTotalPendingBytes int

	// ShutdownTimeout bounds the graceful stop that the end of Serve's
	// context starts (see Shutdown); then what remains is closed at once.
	// If zero, 5s; negative means no grace.
	ShutdownTimeout time.Duration

	// DrainNotice is the first phase of a graceful stop, for rolling
	// restarts behind a balancer: accepting has stopped (after taking for
	// 50ms what the kernel had queued: those get Connects), and connections
	// run on for this long (or until all have left) so that the
	// application, which sees its context end or called Shutdown, can tell
	// its clients to reconnect elsewhere. Zero: no notice.
	DrainNotice time.Duration

	// DrainSpread spreads the next phase, draining what remains (stop
	// reading, deliver, flush, close), over this window, oldest connection
	// first, so that their reconnections do not hit the other instances at
	// once. Zero: all at once. Shutdown's context (ShutdownTimeout) bounds
	// all phases.
	DrainSpread time.Duration

	// Options are the per-connection settings shared with Client.
	Options
}

// Server accepts connections and turns them into events on four channels:
// Connects, Disconnects, Messages and Errors.
//
// A Server serves once: after Serve returns, it cannot be started again. All
// methods are safe for concurrent use.
type Server struct {
	channels // Connects, Disconnects, Messages, Errors, Stats
	cfg      ServerConfig

	mu         sync.Mutex
	lns        []net.Listener
	conns      map[*Conn]struct{}
	perIP      map[string]int
	serving    bool
	closing    bool               // Shutdown or Close was called
	stopped    bool               // killAll ran: no new connections
	stopAccept chan struct{}      // closed when a graceful stop begins
	acceptDone chan struct{}      // closed when every accept loop has ended
	cancel     func(error)        // cancels the serving context
	drained    chan struct{}      // closed when shutting down and the last conn ended
	served     chan struct{}      // closed when Serve has returned
	slots      chan struct{}      // MaxConnections semaphore, nil if unlimited
	proxy      *proxyproto.Policy // nil: no PROXY protocol
}

// NewServer returns a Server for cfg, or an error wrapping ErrInvalidConfig.
func NewServer(cfg ServerConfig) (*Server, error) {
	var err error
	if cfg.Network, cfg.Addr, err = checkNetwork(cfg.Network, cfg.Addr); err != nil {
		return nil, err
	}
	switch {
	case cfg.Backlog < 0 || cfg.MaxConnections < 0 || cfg.MaxConnectionsPerIP < 0:
		return nil, invalid("Backlog, MaxConnections and MaxConnectionsPerIP must not be negative")
	case cfg.ProxyHeaderTimeout < 0 || cfg.DrainNotice < 0 || cfg.DrainSpread < 0:
		return nil, invalid("ProxyHeaderTimeout, DrainNotice and DrainSpread must not be negative")
	case cfg.MaxTotalPendingBytes < 0 || cfg.MaxTotalPendingBytes > maxByteLimit:
		return nil, invalid("MaxTotalPendingBytes %d is not between 0 and %d", cfg.MaxTotalPendingBytes, maxByteLimit)
	}
	opts, err := cfg.Options.resolve(true)
	if err != nil {
		return nil, err
	}
	if t := opts.TLSConfig; t != nil && len(t.Certificates) == 0 && t.GetCertificate == nil && t.GetConfigForClient == nil {
		return nil, invalid("TLSConfig has no certificate")
	}
	s := &Server{
		channels:   channels{newHub(opts, ErrServerClosed, cmp.Or(cfg.MaxTotalPendingBytes, defaultMaxTotalPendingBytes))},
		cfg:        cfg,
		conns:      make(map[*Conn]struct{}),
		perIP:      make(map[string]int),
		served:     make(chan struct{}),
		stopAccept: make(chan struct{}),
	}
	if cfg.MaxConnections > 0 {
		s.slots = make(chan struct{}, cfg.MaxConnections)
	}
	if len(cfg.ProxyTrusted) > 0 {
		s.proxy = &proxyproto.Policy{Trusted: cfg.ProxyTrusted, Optional: cfg.ProxyOptional,
			Timeout: cmp.Or(cfg.ProxyHeaderTimeout, defaultProxyHeaderTimeout)}
	}
	s.h.admit = s.admit
	return s, nil
}

// Listen opens the listener of the configured Network and Addr (with
// Backlog), so that Addr is known before Serve is called without
// listeners. ListenAndServe calls it.
func (s *Server) Listen() error {
	if s.h == nil {
		return errZero
	}
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

// ListenAndServe calls Listen (unless it was called already), then Serve.
func (s *Server) ListenAndServe(ctx context.Context) error {
	if s.h == nil {
		return errZero
	}
	if err := s.Listen(); err != nil && !errors.Is(err, ErrAlreadyStarted) { // (already listening: fine)
		if errors.Is(err, ErrServerClosed) {
			s.h.closeChannels()
		}
		return err
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

// Serve accepts connections on every listener in lns (any net.Listener; one
// set of channels, Stats and Shutdown for all), or with none on the one
// Listen opened, until ctx ends, Shutdown or Close is called, or an Accept
// fails for good. It takes ownership of the listeners and closes them. When
// ctx ends, it stops gracefully (as Shutdown) for at most ShutdownTimeout.
//
// When Serve returns, every goroutine of the server has ended, every
// connection has produced its Disconnect and the four channels are closed.
// Every normal stop returns an error matching ErrServerClosed (when ctx
// ended, it also matches context.Cause(ctx)); a failing listener returns
// the accept error. A Server serves once: a second Serve returns
// ErrAlreadyStarted while the first runs, ErrServerClosed after.
func (s *Server) Serve(ctx context.Context, lns ...net.Listener) error {
	if s.h == nil {
		return errZero
	}
	s.mu.Lock()
	switch {
	case s.serving: // (checked first: a Serve that is stopping still sends on the channels)
		s.mu.Unlock()
		closeAll(lns)
		select {
		case <-s.served:
			return ErrServerClosed
		default:
			return ErrAlreadyStarted
		}
	case s.closing:
		s.mu.Unlock()
		closeAll(lns)
		s.h.closeChannels()
		return ErrServerClosed
	case slices.Contains(lns, nil) || len(lns) == 0 && len(s.lns) == 0:
		s.mu.Unlock()
		closeAll(lns)
		return invalid("Serve needs listeners (or Listen first), and no nil one")
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
	acceptDone := make(chan struct{})
	s.acceptDone = acceptDone
	// ctx's end does not cancel the serving context directly: it starts a
	// graceful stop (below), which cancels it when done.
	sctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.mu.Unlock()

	g, gctx := errgroup.WithContext(sctx)
	s.h.spawn = func(f func()) { g.Go(func() error { f(); return nil }) }
	var accepting sync.WaitGroup
	for _, ln := range lns {
		accepting.Add(1)
		g.Go(func() error { defer accepting.Done(); return s.acceptLoop(gctx, ln) })
	}
	g.Go(func() error { accepting.Wait(); close(acceptDone); return nil })
	g.Go(func() error {
		<-gctx.Done()
		s.killAll(ErrServerClosed)
		return nil
	})
	g.Go(func() error {
		select {
		case <-ctx.Done():
			t := cmp.Or(s.cfg.ShutdownTimeout, defaultShutdownTimeout)
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
	return errs.Because(ErrServerClosed, context.Cause(ctx)) // Cause is nil unless ctx ended
}

func (s *Server) acceptLoop(ctx context.Context, ln net.Listener) error {
	handshake := s.h.opts.TLSConfig != nil
	var delay time.Duration
	for {
		if s.slots != nil {
			select {
			case s.slots <- struct{}{}:
			case <-ctx.Done():
				return nil
			case <-s.stopAccept:
				ln.Close()
				return nil
			}
		}
		nc, err := ln.Accept()
		if err != nil {
			s.releaseSlot()
			if ctx.Err() != nil || s.isClosing() {
				ln.Close() // a graceful stop: the queue is empty (see drain)
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("simplesockets: accept: %w", err)
			}
			// Out of file descriptors and the like: report, back off, retry.
			s.h.emitError(fmt.Errorf("simplesockets: accept: %w", err))
			s.h.logErr("accept failed", err)
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			if !sleep(delay, ctx.Done(), nil, nil) {
				return nil
			}
			continue
		}
		delay = 0
		pc := sock.NewWriter(nc)
		if handshake {
			nc = tls.Server(pc, s.h.opts.TLSConfig)
		}
		c := newConn(s.h, ctx, nc, pc, s.untrack)
		if !s.track(c) {
			c.kill(ErrServerClosed) // (also releases its context)
			s.releaseSlot()
			continue
		}
		s.h.spawn(func() { c.serve(handshake) })
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

// track registers c, unless the server has stopped (killAll).
func (s *Server) track(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// admit runs on a new connection's goroutine, before its TLS handshake: it
// reads the PROXY header (if on) and applies MaxConnectionsPerIP to the
// client's address: at once for a direct client, whose address is final
// (so that silent connections cannot pile up waiting for a header), after
// the header for a balancer's. A non-nil error refuses the connection.
func (s *Server) admit(c *Conn) error {
	direct := s.proxy == nil || !s.proxy.Trusts(c.remote)
	if direct {
		if err := s.countIP(c); err != nil {
			return err
		}
	}
	if s.proxy != nil {
		h, err := s.proxy.Admit(c.pc.Conn)
		switch {
		case c.stopping() != nil:
			return nil // a stop woke it, not the peer: start ends the connection, uncounted
		case err != nil:
			s.h.st.rejectedProxy.Add(1)
			return errs.Because(ErrRefused, err)
		case h != nil && h.Local:
			return errHealthCheck
		case h != nil:
			c.proxy, c.remote = c.remote, h.Source
		}
	}
	if direct {
		return nil
	}
	return s.countIP(c)
}

// countIP counts c against MaxConnectionsPerIP, or refuses it.
func (s *Server) countIP(c *Conn) error {
	ta, ok := c.remote.(*net.TCPAddr)
	perIP := s.cfg.MaxConnectionsPerIP
	if !ok || perIP <= 0 {
		return nil // no cap: nothing to count
	}
	ip := ta.IP.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perIP[ip] >= perIP {
		s.h.st.rejectedIP.Add(1)
		return fmt.Errorf("%w: %d connections from %s", ErrRefused, perIP, ip)
	}
	s.perIP[ip]++
	c.ip = ip
	return nil
}

// untrack is a connection's onEnd: it runs exactly once per tracked conn.
func (s *Server) untrack(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if c.ip != "" {
		if s.perIP[c.ip]--; s.perIP[c.ip] <= 0 {
			delete(s.perIP, c.ip)
		}
	}
	if s.drained != nil && len(s.conns) == 0 {
		close(s.drained)
		s.drained = nil
	}
	s.mu.Unlock()
	s.releaseSlot()
}

// killAll closes the listeners and every connection at once.
func (s *Server) killAll(reason error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	closeAll(s.lns)
	for c := range s.conns {
		c.kill(reason) // records the reason before anything wakes the reader
	}
	s.h.goHard()
}

// acceptWindow is how long a stopping accept loop goes on taking queued
// connections before it closes its listener.
const acceptWindow = 50 * time.Millisecond

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		if ln != nil {
			ln.Close()
		}
	}
}

// Shutdown stops the server gracefully, in phases: it closes the listeners
// (taking for 50ms more what the kernel has queued, so that those are not
// reset: they get Connects and are drained with the rest);
// lets connections run on for DrainNotice; then makes each stop reading,
// delivers the messages already read, writes what is queued and closes it
// (spread over DrainSpread); and waits for Serve to return. If ctx ends
// first, it closes everything at once (as Close) and returns ctx's error.
// Calling it again is harmless.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.h == nil {
		return errZero
	}
	err, serving := s.drain(ctx)
	if serving {
		<-s.served
	}
	return err
}

// drain is Shutdown but for waiting for Serve to return (ending serving
// closes what remains); serving says whether Serve had started.
func (s *Server) drain(ctx context.Context) (err error, serving bool) {
	s.mu.Lock()
	if !s.serving {
		s.closing = true
		closeAll(s.lns)
		s.mu.Unlock()
		s.h.closeChannels()
		return nil, false
	}
	if !s.closing {
		// Stop accepting without dropping what the kernel has queued (a
		// balancer's connections are in it): the accept loops take what
		// comes for acceptWindow more, then close their listener.
		s.closing = true
		close(s.stopAccept)
		for _, ln := range s.lns {
			listen.AcceptFor(ln, acceptWindow)
		}
	}
	acceptDone := s.acceptDone
	s.mu.Unlock()
	select {
	case <-acceptDone: // (closed before s.served)
	case <-ctx.Done():
	}
	s.mu.Lock()
	conns := slices.Collect(maps.Keys(s.conns))
	var drained chan struct{}
	if len(conns) > 0 {
		if s.drained == nil {
			s.drained = make(chan struct{})
		}
		drained = s.drained
	}
	s.mu.Unlock()

	// The phases: a notice while connections run on, then drain them,
	// oldest first, spread over DrainSpread; then wait for the last.
	if d := s.cfg.DrainNotice; d > 0 && drained != nil {
		sleep(d, drained, s.served, ctx.Done())
	}
	slices.SortFunc(conns, func(a, b *Conn) int { return cmp.Compare(a.id, b.id) })
	spread := s.cfg.DrainSpread
	for i, c := range conns {
		c.beginDrain(ErrServerClosed)
		if spread > 0 && i < len(conns)-1 && !sleep(spread/time.Duration(len(conns)), s.served, ctx.Done(), drained) {
			spread = 0 // the deadline, or everyone has left: drain the rest at once
		}
	}
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

// Close closes the listeners and every connection at once, without flushing
// queued sends (messages read but not delivered are counted in
// Stats.MessagesDiscarded), and waits for Serve to return. Close is
// idempotent and returns nil.
func (s *Server) Close() error {
	if s.h == nil {
		return errZero
	}
	s.mu.Lock()
	s.closing = true
	serving := s.serving
	if !serving {
		closeAll(s.lns)
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
