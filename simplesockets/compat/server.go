package compat

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// Defaults of Setup, as in the Python package.
const (
	// DefaultPort is the port Setup uses when Port is zero (Python:
	// port=25567).
	DefaultPort = 25567
	// DefaultListen is the listen(2) backlog Setup uses when Listen is
	// zero (Python: listen=5).
	DefaultListen = 5
	// DefaultRecvBuffer is the most bytes one read returns when RecvBuffer
	// is zero (Python: recv_buffer=2048).
	DefaultRecvBuffer = 2048
	// AnyPort as Port makes the system pick a free port; Addr reports it.
	AnyPort = -1
	// DefaultIP is the address Setup binds to (Server) or dials (Client)
	// when IP or TargetIP is empty.
	DefaultIP = "127.0.0.1"
)

// Errors of the compat layer. Errors of the connections are the
// simplesockets sentinels (simplesockets.ErrClosed, ErrConnReset, ...).
var (
	// ErrNotSetUp is returned by the methods that need Setup before it was
	// called.
	ErrNotSetUp = errors.New("compat: Setup was not called")
	// ErrSetUp is returned by Setup when it was called already.
	ErrSetUp = errors.New("compat: Setup was called already")
	// ErrNotFound is returned by Disconnect and SendData when no client
	// has the given address (or the connection is nil).
	ErrNotFound = errors.New("compat: no such client")
	// ErrHookPanic is recorded in the exception list when a hook
	// (OnConnect, OnDisconnect, OnReceive) panicked.
	ErrHookPanic = errors.New("compat: hook panicked")
)

// ServerSetup is the argument of Server.Setup: the keyword arguments of the
// Python setup(ip, port, listen, recv_buffer, handle_client, on_connect,
// on_disconnect, on_receive). The zero value gives the Python defaults,
// except IP (see below).
//
// Hooks run one at a time on the Server's pump goroutine, in the order of
// the events, so they must not block for long (while one runs, nothing else
// is collected, and the core Server stops reading once its Messages buffer
// is full). They may call any method of the Server except Close, which
// waits for the pump and so for the hook. A panic in a hook is recovered and
// recorded as an exception matching ErrHookPanic.
type ServerSetup struct {
	// IP is the address to bind to. If empty, DefaultIP (127.0.0.1).
	// Python binds to socket.gethostname() by default; loopback is the safe
	// default here, use "0.0.0.0" or "::" to listen on every interface.
	IP string
	// Port is the port to bind to. If zero, DefaultPort (25567); AnyPort
	// picks a free port.
	Port int
	// Listen is the listen(2) backlog: how many connections the kernel
	// completes and holds while the server does not accept (Stop, or at
	// max connections). If zero, DefaultListen (5); a negative value keeps
	// the system default (net.core.somaxconn). Applied on Linux.
	Listen int
	// RecvBuffer is the most bytes one read returns, so the largest item
	// of ReturnRecvedData. If zero, DefaultRecvBuffer (2048); it must not
	// be negative.
	RecvBuffer int
	// HandleClient, if set, replaces the default handling of received data
	// (Python: handle_client): each item goes to it instead of the list
	// ReturnRecvedData returns, AwaitEvent and OnReceive. Python runs it as
	// the client's thread with the raw socket; here the core package reads
	// the socket and HandleClient gets what each read brought.
	HandleClient func(conn *ss.Conn, address string, data []byte)
	// OnConnect runs for each new connection with its address (Python:
	// on_connect).
	OnConnect func(address string)
	// OnDisconnect runs when a connection has ended, with its address
	// (Python: on_disconnect). AwaitEvent's EventDisconnect carries the
	// reason as well.
	OnDisconnect func(address string)
	// OnReceive runs for each received item (Python: on_receive(socket,
	// address, data)); the item is also added to the list ReturnRecvedData
	// returns, as in Python. With OnReceive set (callback style) that list
	// keeps the newest items only, up to MaxRecvedBytes: see there.
	OnReceive func(conn *ss.Conn, address string, data []byte)
	// MaxRecvedBytes bounds the received data held for ReturnRecvedData
	// and AwaitEvent and not yet returned (Python's recved_data has no
	// bound). Each item counts its data plus 128 bytes of bookkeeping; the
	// newest item may pass the bound. If zero, DefaultMaxRecvedBytes
	// (16 MiB); it must not be negative (there is no unlimited setting).
	//
	// At the bound, in polling style (no OnReceive), the Server stops
	// taking received data from the core Server until ReturnRecvedData or
	// AwaitEvent has taken some: the core stops reading the sockets and TCP
	// slows the peers down (backpressure); nothing is dropped. Meanwhile a
	// connection's end is reported (OnDisconnect, EventDisconnect) after its
	// data only, so it waits too. In callback style (OnReceive set),
	// OnReceive has had every item, so reading goes on and the list drops
	// its oldest items instead, counted by Server.RecvedDropped. With
	// HandleClient set nothing is held.
	//
	// The core Server's Messages buffer holds at most about as many bytes
	// again (it is sized from this bound and RecvBuffer).
	MaxRecvedBytes int
}

// Server is the Python TCPServer on top of simplesockets.Server.
//
// It owns the core Server's four channels: a pump goroutine, started by
// Setup and ended by Close, drains them into mutex-protected lists
// (received data, exceptions, events) and runs the hooks. Read the results
// with ReturnRecvedData, ReturnExceptions and AwaitEvent; do not receive
// from the channels of Core. Every list is bounded: received data in bytes
// (ServerSetup.MaxRecvedBytes), exceptions in entries (MaxExceptions) and
// connect and disconnect events in entries (MaxQueuedEvents).
//
// All methods are safe for concurrent use. Every Server must be closed with
// Close, which ends its goroutines. A closed Server is not reused.
type Server struct {
	maxConns int
	st       *store

	mu      sync.Mutex
	cfg     ServerSetup
	core    *ss.Server
	gate    *gate
	started bool
	closed  bool

	serveDone chan struct{} // closed when the Serve goroutine has ended
	pumpDone  chan struct{} // closed when the pump has ended
}

// NewServer returns a Server that accepts at most maxConnections open
// connections at a time (Python: TCPServer(max_connections)); zero means
// no limit. At the limit the Server stops accepting (new clients wait in the
// listen backlog) and resumes when a connection ends. Call Setup next.
func NewServer(maxConnections int) *Server {
	return &Server{maxConns: maxConnections, st: newStore()}
}

// MaxConnections returns the limit given to NewServer (Python:
// max_connections); zero means no limit.
func (s *Server) MaxConnections() int { return s.maxConns }

// Setup binds and listens (Python: setup), with the defaults of
// ServerSetup, and starts the pump. Clients can connect right away: they
// wait in the listen backlog until Start. Setup returns ErrSetUp if called
// twice, net.ErrClosed after Close, an error wrapping
// simplesockets.ErrInvalidConfig for a negative RecvBuffer,
// MaxRecvedBytes or max connections, and the listen error.
func (s *Server) Setup(cfg ServerSetup) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return net.ErrClosed
	case s.core != nil:
		return ErrSetUp
	}
	if cfg.IP == "" {
		cfg.IP = DefaultIP
	}
	port := cfg.Port
	switch {
	case port == 0:
		port = DefaultPort
	case port == AnyPort:
		port = 0
	case port < 0:
		return fmt.Errorf("%w: port %d", ss.ErrInvalidConfig, cfg.Port)
	}
	if cfg.Listen == 0 {
		cfg.Listen = DefaultListen
	}
	backlog := max(cfg.Listen, 0)
	if cfg.RecvBuffer == 0 {
		cfg.RecvBuffer = DefaultRecvBuffer
	}
	if err := setRecvedDefault(&cfg.MaxRecvedBytes); err != nil {
		return err
	}
	core, err := ss.NewServer(ss.ServerConfig{
		MaxConnections: s.maxConns,
		Options: ss.Options{
			ReadBufferSize: cfg.RecvBuffer,
			MessageBuffer:  serverMessageBuffer(cfg.RecvBuffer, cfg.MaxRecvedBytes),
			// As Python's send_data (socket.sendall): a full queue makes
			// SendData wait for the peer, bounded by WriteTimeout.
			SendPolicy: ss.SendQueueBlock,
		},
	})
	if err != nil {
		return err
	}
	s.st.setRecvedBound(cfg.MaxRecvedBytes, cfg.OnReceive != nil && cfg.HandleClient == nil)
	g, err := newGate("tcp", net.JoinHostPort(cfg.IP, strconv.Itoa(port)), backlog, 0)
	if err != nil {
		core.Close()
		return fmt.Errorf("compat: listen: %w", err)
	}
	s.cfg, s.core, s.gate = cfg, core, g
	s.serveDone = make(chan struct{})
	s.pumpDone = make(chan struct{})
	go s.pump(core.Messages(), core.Connects(), core.Disconnects(), core.Errors())
	return nil
}

// Start starts accepting clients (Python: start), or resumes after Stop.
// It returns ErrNotSetUp before Setup and net.ErrClosed after Close. After
// ExitAccept it does nothing: use Restart.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return net.ErrClosed
	case s.core == nil:
		return ErrNotSetUp
	}
	if !s.started {
		s.started = true
		go func() {
			defer close(s.serveDone)
			err := s.core.Serve(context.Background(), s.gate)
			if err != nil && !errors.Is(err, ss.ErrServerClosed) {
				s.st.addException(err, "")
			}
		}()
	}
	if _, exited := s.gate.state(); !exited {
		s.gate.resume()
	}
	return nil
}

// Stop pauses accepting (Python: stop): once it returns, no new client is
// accepted until Start or Restart; they wait in the listen backlog (and are
// refused once it is full). Connected clients are not affected. A client
// the kernel handed over while Stop was being called is still served.
func (s *Server) Stop() error {
	g, err := s.gateOrErr()
	if err != nil {
		return err
	}
	g.pause()
	return nil
}

// ExitAccept stops accepting for good (Python: exit_accept): it closes the
// listening socket, so new clients are refused and those waiting in the
// backlog are reset. Connected clients keep working. Restart listens again.
func (s *Server) ExitAccept() error {
	g, err := s.gateOrErr()
	if err != nil {
		return err
	}
	g.exit()
	return nil
}

// Restart starts accepting again (Python: restart): after ExitAccept it
// listens again on the same address and port, after Stop it resumes, and
// before Start it starts.
func (s *Server) Restart() error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return net.ErrClosed
	case s.core == nil:
		s.mu.Unlock()
		return ErrNotSetUp
	}
	g := s.gate
	s.mu.Unlock()
	if err := g.restart(); err != nil {
		return fmt.Errorf("compat: restart: %w", err)
	}
	return s.Start()
}

// Killed reports whether the accept loop was stopped for good, by
// ExitAccept or Close (Python: killed). Restart clears it.
func (s *Server) Killed() bool {
	g, err := s.gateOrErr()
	if err != nil {
		return errors.Is(err, net.ErrClosed)
	}
	_, exited := g.state()
	return exited
}

// Accepting reports whether the Server is waiting for new clients now
// (Python: event.accepting_thread.run): false before Start, after Stop,
// ExitAccept or Close, and while max connections are open. Between two
// clients it can be false for the instant the accept loop takes to set one
// up.
func (s *Server) Accepting() bool {
	s.mu.Lock()
	g, started := s.gate, s.started && !s.closed
	s.mu.Unlock()
	if !started {
		return false
	}
	open, _ := g.state()
	return open && g.inAccept()
}

func (s *Server) gateOrErr() (*gate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return nil, net.ErrClosed
	case s.core == nil:
		return nil, ErrNotSetUp
	}
	return s.gate, nil
}

// Addr returns the listening address (Python: socket), also after
// ExitAccept, or nil before Setup.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gate == nil {
		return nil
	}
	return s.gate.Addr()
}

// Core returns the simplesockets.Server the compat Server wraps, or nil
// before Setup, for what the Python package has no call for (Stats,
// Broadcast). Its channels belong to the compat Server: do not receive from
// them.
func (s *Server) Core() *ss.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.core
}

// NewData reports whether received data is waiting for ReturnRecvedData
// (Python: event.new_data).
func (s *Server) NewData() bool { return s.st.newData() }

// ReturnRecvedData returns the data received since the last call and
// clears the list (Python: return_recved_data, and the recved_data
// variable). The list is swapped out under a lock, so an item that arrives
// meanwhile is in the next call's result, never lost. Each item is returned
// once, by this method or by AwaitEvent, whichever takes it first. Items of
// one connection are in the order they arrived. At most
// ServerSetup.MaxRecvedBytes are held: in polling style reading waits for
// this call (or AwaitEvent), in callback style older items are dropped.
func (s *Server) ReturnRecvedData() []RecvedData { return s.st.returnRecved() }

// SendData queues data for sending to conn (Python: send_data(data,
// client_socket)); see simplesockets.Conn.Send. As Python's sendall, it
// waits while conn's send queue is full (SendQueueBlock: a peer that reads
// nothing for WriteTimeout, 30s, is disconnected). A failure is returned and,
// as in Python, also recorded in the exception list.
func (s *Server) SendData(data []byte, conn *ss.Conn) error {
	if conn == nil {
		err := fmt.Errorf("compat: SendData: %w", ErrNotFound)
		s.st.addException(err, "")
		return err
	}
	if err := conn.Send(data); err != nil {
		s.st.addException(err, addrOf(conn))
		return err
	}
	return nil
}

// Disconnect closes the connection of the client at address (Python:
// disconnect(address)): it flushes what is queued for it, then closes. It
// returns an error matching ErrNotFound if no client has that address.
func (s *Server) Disconnect(address string) error {
	core := s.Core()
	if core == nil {
		return ErrNotSetUp
	}
	if c := s.Clients()[address]; c != nil {
		return c.Close()
	}
	return fmt.Errorf("%w: %s", ErrNotFound, address)
}

// Clients returns a snapshot of the connected clients, keyed by address
// (Python: clients, whose values are [thread, socket]). Peers of a Unix
// socket have no address of their own, so for them the key is the address
// followed by "#" and the connection's ID (for example "@#7").
func (s *Server) Clients() map[string]*ss.Conn {
	m := map[string]*ss.Conn{}
	if core := s.Core(); core != nil {
		for _, c := range core.Conns() {
			m[clientKey(c)] = c
		}
	}
	return m
}

func clientKey(c *ss.Conn) string {
	if _, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return c.RemoteAddr().String()
	}
	return fmt.Sprintf("%v#%d", c.RemoteAddr(), c.ID())
}

// ReturnExceptions returns the exception list (Python:
// return_exceptions(delete, reset_exception)). With del, the list is
// cleared (an exception AwaitEvent has not returned yet is then consumed
// too); with reset, ExceptionOccurred turns false. Python's defaults are
// true, true.
func (s *Server) ReturnExceptions(del, reset bool) []Exception {
	return s.st.returnExceptions(del, reset)
}

// ExceptionOccurred reports whether an exception was recorded since the
// last ReturnExceptions with reset (Python: event.exception.occurred).
func (s *Server) ExceptionOccurred() bool { return s.st.exceptionOccurred() }

// ExceptionsDropped returns how many exceptions were dropped from the list
// since NewServer because it held MaxExceptions entries already (the oldest
// goes). ReturnExceptions does not reset it.
func (s *Server) ExceptionsDropped() uint64 { return s.st.exceptionsDropped() }

// RecvedDropped returns how many received items were dropped from the list
// ReturnRecvedData returns since NewServer, in callback style only: the
// oldest items, which OnReceive had had, once the list held more than
// ServerSetup.MaxRecvedBytes. It stays zero in polling style, where the
// bound holds the peers back instead.
func (s *Server) RecvedDropped() uint64 { return s.st.recvedDropped() }

// AwaitEvent waits for the next event (Python: await_event of later
// versions): received data, a new exception, a connect or a disconnect,
// the oldest first. A timeout <= 0 waits without limit. It returns
// os.ErrDeadlineExceeded when the timeout passes first, and net.ErrClosed
// after Close once every pending event was returned.
//
// What it consumes: a data event takes the item from the list
// ReturnRecvedData returns (each item goes to exactly one of the two); an
// exception event leaves the exception in the list ReturnExceptions returns
// (AwaitEvent reports each exception once); connect and disconnect events
// exist only here (at most MaxQueuedEvents wait). Several goroutines may
// wait at once: each event goes to one of them.
func (s *Server) AwaitEvent(timeout time.Duration) (Event, error) {
	return s.st.awaitTimeout(timeout)
}

// AwaitEventContext is AwaitEvent bounded by ctx instead of a timeout; it
// returns ctx.Err() when ctx ends first.
func (s *Server) AwaitEventContext(ctx context.Context) (Event, error) {
	return s.st.await(ctx, nil)
}

// Close closes the listener and every connection at once, waits for the
// Server's goroutines to end (the pump runs the last hooks first) and makes
// AwaitEvent return net.ErrClosed once the pending events are taken (Python:
// close, of later versions). Data and exceptions collected stay readable.
// Close is idempotent and returns nil. Do not call it from a hook.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.waitDone()
		return nil
	}
	s.closed = true
	core, g, started := s.core, s.gate, s.started
	s.mu.Unlock()
	if core == nil {
		s.st.close()
		return nil
	}
	core.Close()
	g.Close()
	if !started {
		close(s.serveDone)
	}
	s.waitDone()
	return nil
}

func (s *Server) waitDone() {
	s.mu.Lock()
	serveDone, pumpDone := s.serveDone, s.pumpDone
	s.mu.Unlock()
	if serveDone != nil {
		<-serveDone
		<-pumpDone
	}
}

// pump drains the core Server's channels until the core closes them. It
// takes a message only while the store has room (polling style, see
// ServerSetup.MaxRecvedBytes): otherwise the core's Messages buffer fills and
// its readers stop reading. Connects and errors are taken meanwhile (their
// lists are bounded); a Disconnect is held until the messages that were
// waiting when it came, its connection's among them, are taken.
func (s *Server) pump(msgs <-chan ss.Message, conns <-chan *ss.Conn, discs <-chan ss.Disconnect, errs <-chan error) {
	defer close(s.pumpDone)
	defer s.st.close()
	var (
		held    *ss.Disconnect // taken, waiting for the messages before it
		before  int            // how many messages must be taken before held
		coreEnd bool           // the core closed its channels: drain without bound
	)
	for msgs != nil || conns != nil || discs != nil || errs != nil || held != nil {
		if held != nil && (before == 0 || msgs == nil) {
			s.onDisconnect(*held)
			held = nil
			continue
		}
		msgC, discC := msgs, discs
		var room <-chan struct{}
		if msgs != nil && !coreEnd {
			if room = s.st.roomChan(); room != nil {
				msgC = nil
			}
		}
		if held != nil {
			discC = nil
		}
		select {
		case <-room:
		case m, ok := <-msgC:
			if !ok {
				msgs, coreEnd = nil, true
				continue
			}
			before = max(before-1, 0)
			s.onMessage(m)
		case c, ok := <-conns:
			if !ok {
				conns, coreEnd = nil, true
				continue
			}
			s.onConnect(c)
		case d, ok := <-discC:
			if !ok {
				discs, coreEnd = nil, true
				continue
			}
			// Every message of the connection was sent on Messages before
			// its Disconnect: those not taken yet are among the first
			// len(msgs), so they come first.
			held, before = &d, len(msgs)
		case err, ok := <-errs:
			if !ok {
				errs, coreEnd = nil, true
				continue
			}
			s.st.addException(err, errAddr(err))
		}
	}
}

func (s *Server) onMessage(m ss.Message) {
	addr := addrOf(m.Conn)
	if h := s.cfg.HandleClient; h != nil {
		func() {
			defer recoverHook(s.st, "HandleClient", addr)
			h(m.Conn, addr, m.Data)
		}()
		return
	}
	s.st.addData(RecvedData{Conn: m.Conn, Address: addr, Data: m.Data, Time: m.Time})
	if h := s.cfg.OnReceive; h != nil {
		func() {
			defer recoverHook(s.st, "OnReceive", addr)
			h(m.Conn, addr, m.Data)
		}()
	}
}

func (s *Server) onConnect(c *ss.Conn) {
	addr := addrOf(c)
	s.st.addLifecycle(Event{Kind: EventConnect, Conn: c, Address: addr, Time: time.Now()})
	if h := s.cfg.OnConnect; h != nil {
		func() {
			defer recoverHook(s.st, "OnConnect", addr)
			h(addr)
		}()
	}
}

func (s *Server) onDisconnect(d ss.Disconnect) {
	addr := addrOf(d.Conn)
	s.st.addLifecycle(Event{Kind: EventDisconnect, Conn: d.Conn, Address: addr, Err: d.Err, Time: time.Now()})
	if h := s.cfg.OnDisconnect; h != nil {
		func() {
			defer recoverHook(s.st, "OnDisconnect", addr)
			h(addr)
		}()
	}
}
