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

// clientMessageBuffer is the capacity of the core Client's Messages channel:
// small, so that with AutoRecv off the core stops reading the socket after a
// few reads and the server feels backpressure.
const clientMessageBuffer = 4

// ClientSetup is the argument of Client.Setup: the keyword arguments of the
// Python setup(target_ip, target_port, recv_buffer, on_connect,
// on_disconnect, on_receive). The zero value gives the Python defaults
// (the manual's listen argument of the client has no effect in Python and
// has no counterpart).
//
// Hooks run one at a time on the Client's pump goroutine, in the order of
// the events; they must not block for long and must not call Close. A panic
// in a hook is recovered and recorded as an exception matching
// ErrHookPanic.
type ClientSetup struct {
	// TargetIP is the server's IP or host name. If empty, DefaultIP
	// (Python requires it).
	TargetIP string
	// TargetPort is the server's port. If zero, DefaultPort (25567).
	TargetPort int
	// RecvBuffer is the most bytes one read returns, so the largest item
	// of ReturnRecvedData. If zero, DefaultRecvBuffer (2048); it must not
	// be negative.
	RecvBuffer int
	// OnConnect runs after each successful Connect or Reconnect (Python:
	// on_connect).
	OnConnect func()
	// OnDisconnect runs when the connection has ended, whoever ended it
	// (Python: on_disconnect).
	OnDisconnect func()
	// OnReceive runs for each received item (Python: on_receive(data)),
	// which is also added to the list ReturnRecvedData returns, as in
	// Python. With OnReceive set (callback style) that list keeps the
	// newest items only, up to MaxRecvedBytes: see there.
	OnReceive func(data []byte)
	// MaxRecvedBytes bounds the received data held for ReturnRecvedData
	// and AwaitEvent and not yet returned, as ServerSetup.MaxRecvedBytes
	// does. If zero, DefaultMaxRecvedBytes (16 MiB); it must not be
	// negative.
	//
	// At the bound, in polling style (no OnReceive), the Client stops
	// collecting, as with AutoRecv off, until ReturnRecvedData or
	// AwaitEvent has taken some: the socket is not read and the server's
	// sends back up; nothing is dropped. Shutdown, Reconnect and Close
	// still collect what the ending connection had read (a few reads at
	// most). In callback style (OnReceive set) collection goes on and the
	// list drops its oldest items, which OnReceive had had, counted by
	// Client.RecvedDropped.
	MaxRecvedBytes int
}

// Client is the Python TCPClient on top of simplesockets.Client.
//
// It owns the core Client's four channels: a pump goroutine, started by
// Setup and ended by Close, drains them into mutex-protected lists and runs
// the hooks. Received data is drained only while AutoRecv is on (it starts
// off, as in Python); while it is off the core stops reading the socket
// after a few reads, so the server's sends back up (TCP backpressure). The
// same happens, with AutoRecv on, while the received data not yet returned
// has reached ClientSetup.MaxRecvedBytes (polling style). The exception list
// keeps at most MaxExceptions entries.
//
// All methods are safe for concurrent use. Every Client must be closed with
// Close, which ends its goroutines. A closed Client is not reused.
type Client struct {
	st *store

	mu       sync.Mutex
	cfg      ClientSetup
	core     *ss.Client
	addr     string
	autoRecv bool
	forced   int           // Shutdown drains while it waits: count of such waits
	toggled  chan struct{} // closed and replaced when autoRecv or forced change
	closed   bool
	pumpDone chan struct{}
	endedID  uint64 // ID of the last connection whose disconnect the pump collected
}

// NewClient returns a Client (Python: TCPClient()). Call Setup next.
func NewClient() *Client {
	return &Client{st: newStore(), toggled: make(chan struct{})}
}

// Setup prepares the Client (Python: setup) and starts its pump; it does
// not connect. It returns ErrSetUp if called twice, net.ErrClosed after
// Close, and an error wrapping simplesockets.ErrInvalidConfig for a
// negative RecvBuffer or MaxRecvedBytes or an invalid port.
func (c *Client) Setup(cfg ClientSetup) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return net.ErrClosed
	case c.core != nil:
		return ErrSetUp
	}
	if cfg.TargetIP == "" {
		cfg.TargetIP = DefaultIP
	}
	if cfg.TargetPort == 0 {
		cfg.TargetPort = DefaultPort
	}
	if cfg.TargetPort < 0 || cfg.TargetPort > 65535 {
		return fmt.Errorf("%w: port %d", ss.ErrInvalidConfig, cfg.TargetPort)
	}
	if cfg.RecvBuffer == 0 {
		cfg.RecvBuffer = DefaultRecvBuffer
	}
	if err := setRecvedDefault(&cfg.MaxRecvedBytes); err != nil {
		return err
	}
	addr := net.JoinHostPort(cfg.TargetIP, strconv.Itoa(cfg.TargetPort))
	core, err := ss.NewClient(ss.ClientConfig{
		Addr: addr,
		Options: ss.Options{
			ReadBufferSize: cfg.RecvBuffer,
			MessageBuffer:  clientMessageBuffer,
		},
	})
	if err != nil {
		return err
	}
	c.st.setRecvedBound(cfg.MaxRecvedBytes, cfg.OnReceive != nil)
	c.cfg, c.core, c.addr = cfg, core, addr
	c.pumpDone = make(chan struct{})
	go c.pump(core.Messages(), core.Connects(), core.Disconnects(), core.Errors())
	return nil
}

func (c *Client) coreOrErr() (*ss.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return nil, net.ErrClosed
	case c.core == nil:
		return nil, ErrNotSetUp
	}
	return c.core, nil
}

// record adds err to the exception list and returns it.
func (c *Client) record(err error) error {
	if err != nil {
		c.st.addException(err, c.Address())
	}
	return err
}

// Connect connects to the server (Python: connect). ctx bounds the dial
// only. It returns an error matching simplesockets.ErrAlreadyStarted if
// connected; a failure is returned and, as in Python, also recorded in the
// exception list.
func (c *Client) Connect(ctx context.Context) error {
	core, err := c.coreOrErr()
	if err != nil {
		return err
	}
	return c.record(core.Connect(ctx))
}

// Reconnect closes the connection, if any, after flushing what is queued,
// and connects again (Python: reconnect). ctx bounds the wait and the dial.
// Data the old connection had read is collected, whatever AutoRecv is, so
// that it can end. A failure is returned and also recorded.
func (c *Client) Reconnect(ctx context.Context) error {
	core, err := c.coreOrErr()
	if err != nil {
		return err
	}
	old := core.Conn()
	c.force(1)
	defer c.force(-1)
	err = core.Reconnect(ctx)
	if old != nil {
		// Like Shutdown: return once the pump has taken the old
		// connection's data and its disconnect, so ReturnRecvedData has them.
		c.waitEnded(old.ID())
	}
	return c.record(err)
}

// waitEnded waits until the pump has handled the Disconnect of the
// connection with the given ID (or the pump has stopped).
func (c *Client) waitEnded(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.endedID < id && !c.closed {
		ch := c.toggled
		c.mu.Unlock()
		select {
		case <-ch:
		case <-c.pumpDone:
		}
		c.mu.Lock()
		if isDone(c.pumpDone) {
			return
		}
	}
}

// force makes the pump collect data even with AutoRecv off while a
// Shutdown or Reconnect waits for a connection to end.
func (c *Client) force(delta int) {
	c.mu.Lock()
	c.forced += delta
	c.toggleLocked()
	c.mu.Unlock()
}

// AutoRecv toggles the collection of received data (Python: autorecv) and
// returns the new state; it starts off. While it is off, nothing is added to
// the list ReturnRecvedData returns and the socket is not read (after the
// few reads the core buffers), so the server's sends back up; a peer's close
// is then noticed only once the data before it is collected. While it is on,
// collection also pauses at ClientSetup.MaxRecvedBytes in polling style.
func (c *Client) AutoRecv() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.autoRecv = !c.autoRecv
	c.toggleLocked()
	return c.autoRecv
}

// toggleLocked wakes the pump to look at autoRecv again. mu must be held.
func (c *Client) toggleLocked() {
	close(c.toggled)
	c.toggled = make(chan struct{})
}

// AutoRecving reports whether AutoRecv is on.
func (c *Client) AutoRecving() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.autoRecv
}

// SendData queues data for sending to the server (Python: send_data). It
// returns simplesockets.ErrNotConnected without a connection; a failure is
// returned and also recorded in the exception list.
func (c *Client) SendData(data []byte) error {
	core, err := c.coreOrErr()
	if err != nil {
		return err
	}
	return c.record(core.Send(data))
}

// Disconnect closes the connection after flushing what is queued (Python:
// disconnect); it does not wait. The Client can Connect again.
func (c *Client) Disconnect() error {
	core, err := c.coreOrErr()
	if err != nil {
		return err
	}
	if conn := core.Conn(); conn != nil {
		return conn.Close()
	}
	return nil
}

// Shutdown closes the connection and turns AutoRecv off (Python: shutdown
// ends the autorecv thread and closes the connection). Unlike Disconnect it
// waits until the connection has ended and its disconnect was collected
// (bounded by the flush of what is queued, see
// simplesockets.Options.WriteTimeout); data that arrived before is
// collected too, whatever AutoRecv was. The Client can Connect again; Close
// ends it for good.
func (c *Client) Shutdown() error {
	core, err := c.coreOrErr()
	if err != nil {
		return err
	}
	conn := core.Conn()
	c.force(1)
	if conn != nil {
		conn.Close()
		c.waitEnded(conn.ID())
	}
	c.mu.Lock()
	c.forced--
	c.autoRecv = false
	c.toggleLocked()
	c.mu.Unlock()
	return nil
}

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Connected reports whether a Connect or Reconnect ever succeeded (Python:
// event.connected).
func (c *Client) Connected() bool {
	core, err := c.coreOrErr()
	return err == nil && core.Conn() != nil
}

// IsConnected reports whether the Client has a connection now (Python:
// event.is_connected).
func (c *Client) IsConnected() bool {
	core, err := c.coreOrErr()
	return err == nil && isLive(core.Conn())
}

// isLive reports whether conn is open: made and not yet ended.
func isLive(conn *ss.Conn) bool { return conn != nil && conn.Context().Err() == nil }

// Disconnected reports whether the Client was connected and is not any
// more (Python: event.disconnected). Unlike Python's flag it turns false
// again on Reconnect.
func (c *Client) Disconnected() bool {
	core, err := c.coreOrErr()
	if err != nil {
		return errors.Is(err, net.ErrClosed)
	}
	return core.Conn() != nil && !isLive(core.Conn())
}

// Address returns the server's address as "ip:port" (Python: Address, the
// tuple (target_ip, target_port)), or "" before Setup.
func (c *Client) Address() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.addr
}

// Core returns the simplesockets.Client the compat Client wraps, or nil
// before Setup (Python: socket is Core().Conn()). Its channels belong to the
// compat Client: do not receive from them.
func (c *Client) Core() *ss.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.core
}

// NewData reports whether received data is waiting for ReturnRecvedData
// (Python: event.new_data).
func (c *Client) NewData() bool { return c.st.newData() }

// ReturnRecvedData returns the data received since the last call and
// clears the list (Python: return_recved_data, and the recved_data
// variable). As for Server.ReturnRecvedData, nothing arriving meanwhile is
// lost, each item goes either here or to AwaitEvent, and at most
// ClientSetup.MaxRecvedBytes are held.
func (c *Client) ReturnRecvedData() []RecvedData { return c.st.returnRecved() }

// ReturnExceptions returns the exception list (Python: return_exceptions);
// del clears it, reset makes ExceptionOccurred false. See
// Server.ReturnExceptions.
func (c *Client) ReturnExceptions(del, reset bool) []Exception {
	return c.st.returnExceptions(del, reset)
}

// ExceptionOccurred reports whether an exception was recorded since the
// last ReturnExceptions with reset (Python: event.exception.occurred).
func (c *Client) ExceptionOccurred() bool { return c.st.exceptionOccurred() }

// ExceptionsDropped returns how many exceptions were dropped from the list
// since NewClient because it held MaxExceptions entries already (the oldest
// goes). ReturnExceptions does not reset it.
func (c *Client) ExceptionsDropped() uint64 { return c.st.exceptionsDropped() }

// RecvedDropped returns how many received items were dropped from the list
// ReturnRecvedData returns since NewClient, in callback style only (see
// ClientSetup.MaxRecvedBytes); it stays zero in polling style.
func (c *Client) RecvedDropped() uint64 { return c.st.recvedDropped() }

// AwaitEvent waits for the next event (Python: await_event of later
// versions) or the timeout (<= 0: no limit). What it consumes and returns is
// as for Server.AwaitEvent. With AutoRecv off, no data event comes.
func (c *Client) AwaitEvent(timeout time.Duration) (Event, error) {
	return c.st.awaitTimeout(timeout)
}

// AwaitEventContext is AwaitEvent bounded by ctx.
func (c *Client) AwaitEventContext(ctx context.Context) (Event, error) {
	return c.st.await(ctx, nil)
}

// Close ends the Client for good (Python: close, of later versions): it
// closes the connection after flushing what is queued, waits for the
// goroutines and makes AwaitEvent return net.ErrClosed once the pending
// events are taken. Data and exceptions collected stay readable. Close is
// idempotent and returns nil. Do not call it from a hook.
func (c *Client) Close() error {
	c.mu.Lock()
	already := c.closed
	c.closed = true
	core, done := c.core, c.pumpDone
	c.mu.Unlock()
	if core == nil {
		c.st.close()
		return nil
	}
	if !already {
		core.Close()
	}
	<-done
	return nil
}

// recvChan says whether data is collected now (on: AutoRecv, or a Shutdown,
// Reconnect or Close waiting for the connection to end) and returns msgs if
// the pump may take a message now, else nil; room, if not nil, is closed
// once the store has room again; toggled signals a change of on.
func (c *Client) recvChan(msgs <-chan ss.Message) (recv <-chan ss.Message, room, toggled <-chan struct{}, on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.forced > 0 || c.closed:
		// What the ending connection had read: a few reads at most.
		return msgs, nil, c.toggled, true
	case !c.autoRecv:
		return nil, nil, c.toggled, false
	}
	if room = c.st.roomChan(); room != nil {
		return nil, room, c.toggled, true
	}
	return msgs, nil, c.toggled, true
}

// pump drains the core Client's channels until Close; Messages only while
// collection is on and the store has room. A Disconnect that comes while
// collection is on is held until the messages that were waiting when it
// came are collected, so it comes after its connection's data.
func (c *Client) pump(msgs <-chan ss.Message, conns <-chan *ss.Conn, discs <-chan ss.Disconnect, errs <-chan error) {
	defer close(c.pumpDone)
	defer c.st.close()
	// held keeps a message received just as AutoRecv was turned off: the
	// select may pick it over the toggle. It is collected when collection
	// is on again, so AutoRecv(off) really stops collection at once.
	var held []ss.Message
	var (
		disc   *ss.Disconnect // taken, waiting for the messages before it
		before int            // how many messages must be taken before disc
	)
	for msgs != nil || conns != nil || discs != nil || errs != nil || disc != nil {
		recv, room, toggled, on := c.recvChan(msgs)
		if recv != nil {
			for _, m := range held {
				c.onMessage(m)
			}
			held = held[:0]
		}
		if disc != nil && (before == 0 || msgs == nil || !on) {
			// !on: AutoRecv was turned off meanwhile; as when it is off
			// from the start, the end comes before the data not collected.
			c.onDisconnect(*disc)
			disc = nil
			continue
		}
		discC := discs
		if disc != nil {
			discC = nil
		}
		select {
		case <-toggled:
		case <-room:
		case m, ok := <-recv:
			if !ok {
				msgs = nil
				continue
			}
			before = max(before-1, 0)
			if _, _, _, on := c.recvChan(msgs); !on {
				held = append(held, m)
				continue
			}
			c.onMessage(m)
		case conn, ok := <-conns:
			if !ok {
				conns = nil
				continue
			}
			c.st.addLifecycle(Event{Kind: EventConnect, Conn: conn, Address: c.addr, Time: time.Now()})
			c.hook("OnConnect", c.cfg.OnConnect)
		case d, ok := <-discC:
			if !ok {
				discs = nil
				continue
			}
			if on {
				// Every message of the connection was sent on Messages
				// before its Disconnect: those not taken yet are among the
				// first len(msgs).
				disc, before = &d, len(msgs)
				continue
			}
			c.onDisconnect(d)
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			c.st.addException(err, c.addr)
		}
	}
}

func (c *Client) onDisconnect(d ss.Disconnect) {
	c.st.addLifecycle(Event{Kind: EventDisconnect, Conn: d.Conn, Address: c.addr, Err: d.Err, Time: time.Now()})
	c.hook("OnDisconnect", c.cfg.OnDisconnect)
	c.mu.Lock()
	c.endedID = max(c.endedID, d.Conn.ID())
	c.toggleLocked() // wakes Shutdown
	c.mu.Unlock()
}

func (c *Client) onMessage(m ss.Message) {
	c.st.addData(RecvedData{Conn: m.Conn, Address: c.addr, Data: m.Data, Time: m.Time})
	if h := c.cfg.OnReceive; h != nil {
		func() {
			defer recoverHook(c.st, "OnReceive", c.addr)
			h(m.Data)
		}()
	}
}

func (c *Client) hook(name string, h func()) {
	if h == nil {
		return
	}
	defer recoverHook(c.st, name, c.addr)
	h()
}
