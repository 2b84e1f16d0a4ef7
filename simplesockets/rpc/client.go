package rpc

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// Config configures a Client. The zero value works.
type Config struct {
	// MaxPending bounds the calls waiting for their replies; one more
	// fails at once with ErrTooManyPending. If zero, 1024; it must not be
	// negative.
	MaxPending int

	// WaitForConnection makes a call made while the simplesockets Client
	// has no open connection (before Connect, while automatic reconnection
	// is under way) wait for one, bounded by the call's context. If false,
	// such a call fails at once with an error matching
	// simplesockets.ErrNotConnected.
	WaitForConnection bool
}

// Stats are a Client's counters.
type Stats struct {
	Calls       uint64 `json:"calls"`        // Call invocations
	Replies     uint64 `json:"replies"`      // replies and failures matched to a waiting call
	LateReplies uint64 `json:"late_replies"` // replies whose call had given up (context) or was unknown
	Pending     int64  `json:"pending"`      // calls waiting now
	Pushes      uint64 `json:"pushes"`       // plain messages delivered on Messages
	Dropped     uint64 `json:"dropped"`      // plain messages dropped: nobody asked for Messages
	Malformed   uint64 `json:"malformed"`    // frames that were not envelopes
}

// Client makes calls over a simplesockets Client, which it owns: it reads
// the Client's Messages (replies, and plain messages it passes on to its
// own Messages), and Close closes it. The simplesockets Client's Connects,
// Disconnects and Errors stay the application's to read (or not). All
// methods are safe for concurrent use.
type Client struct {
	cli *ss.Client
	cfg Config

	mu      sync.Mutex
	pending map[uint64]*call
	watched map[*ss.Conn]bool // connections whose end a watcher waits for

	nextID  atomic.Uint64
	subMsgs atomic.Bool
	msgs    chan ss.Message
	ended   chan *ss.Conn // from watchers: a connection ended
	done    chan struct{} // closed by Close
	wg      sync.WaitGroup
	once    sync.Once

	calls, replies, late, pushes, dropped, malformed atomic.Uint64
}

type call struct {
	conn  *ss.Conn
	reply chan result // capacity 1: the reader never waits for the caller
}

type result struct {
	data []byte
	err  error
}

// NewClient returns a Client making calls over cli, which it now owns.
func NewClient(cli *ss.Client, cfg Config) (*Client, error) {
	switch {
	case cli == nil:
		return nil, fmt.Errorf("%w: nil simplesockets Client", ss.ErrInvalidConfig)
	case cfg.MaxPending < 0:
		return nil, fmt.Errorf("%w: negative MaxPending", ss.ErrInvalidConfig)
	case cfg.MaxPending == 0:
		cfg.MaxPending = 1024
	}
	c := &Client{
		cli: cli, cfg: cfg,
		pending: make(map[uint64]*call),
		watched: make(map[*ss.Conn]bool),
		msgs:    make(chan ss.Message, 64),
		ended:   make(chan *ss.Conn),
		done:    make(chan struct{}),
	}
	c.wg.Add(1)
	go c.readLoop(cli.Messages())
	return c, nil
}

// Dial is simplesockets.Dial followed by NewClient. If ccfg.Framing is nil,
// it is simplesockets.LengthPrefixed(0) (the envelope needs a framing that
// keeps boundaries: the server must use the same).
func Dial(ctx context.Context, ccfg ss.ClientConfig, cfg Config) (*Client, error) {
	if ccfg.Framing == nil {
		ccfg.Framing = ss.LengthPrefixed(0)
	}
	cli, err := ss.Dial(ctx, ccfg)
	if err != nil {
		return nil, err
	}
	c, err := NewClient(cli, cfg)
	if err != nil {
		cli.Close()
	}
	return c, err
}

// Core returns the simplesockets Client, for its Connects, Disconnects,
// Errors and Stats. Do not read its Messages: the Client does.
func (c *Client) Core() *ss.Client { return c.cli }

// Messages delivers the plain messages the server sent (Push), with Data
// the payload. Until it is called, such messages are dropped (counted in
// Stats.Dropped); after, they wait for the application, and so do the
// replies behind them: read it. It is closed by Close.
func (c *Client) Messages() <-chan ss.Message {
	c.subMsgs.Store(true)
	return c.msgs
}

// Send sends data to the server as a plain message (no reply).
func (c *Client) Send(data []byte) error {
	conn, err := c.conn(context.Background(), false)
	if err != nil {
		return err
	}
	return Push(conn, data)
}

// Call sends req and returns the reply's payload, which is the caller's.
// ctx bounds the wait (and, with WaitForConnection, the wait for a
// connection); when it ends the call is forgotten and a late reply is
// dropped (Stats.LateReplies). A call that gets no reply returns a
// *CallError (saying whether the request was sent); one the server failed
// returns a *RemoteError.
func (c *Client) Call(ctx context.Context, req []byte) ([]byte, error) {
	c.calls.Add(1)
	conn, err := c.conn(ctx, c.cfg.WaitForConnection)
	if err != nil {
		return nil, &CallError{Err: err}
	}
	id := c.nextID.Add(1)
	cl := calls.Get().(*call)
	cl.conn = conn
	// cl goes back to the pool once its reply channel is empty and no one
	// else holds it: a reply is sent by whoever removed it from pending.
	defer func() { cl.conn = nil; calls.Put(cl) }()
	if err := c.register(id, cl); err != nil {
		return nil, &CallError{Err: err}
	}
	if err := send(conn, kindRequest, id, req); err != nil {
		if !c.forget(id) {
			<-cl.reply // failed meanwhile (the connection ended)
		}
		return nil, &CallError{Err: err}
	}
	select {
	case r := <-cl.reply:
		return r.data, r.err
	case <-ctx.Done():
		if c.forget(id) {
			return nil, &CallError{Sent: true, Err: context.Cause(ctx)}
		}
		r := <-cl.reply // answered meanwhile
		return r.data, r.err
	}
}

// calls recycles calls and their reply channels.
var calls = sync.Pool{New: func() any { return &call{reply: make(chan result, 1)} }}

// conn returns the open connection, waiting for one if wait is set.
func (c *Client) conn(ctx context.Context, wait bool) (*ss.Conn, error) {
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		if conn := c.cli.Conn(); conn != nil && conn.Context().Err() == nil {
			return conn, nil
		}
		if !wait {
			return nil, ss.ErrNotConnected
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w: %w", ss.ErrNotConnected, context.Cause(ctx))
		case <-c.done:
			t.Stop()
			return nil, ss.ErrClosed
		}
	}
}

// register adds a pending call and makes sure a watcher waits for its
// connection's end.
func (c *Client) register(id uint64, cl *call) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		return ss.ErrClosed
	default:
	}
	if len(c.pending) >= c.cfg.MaxPending {
		return fmt.Errorf("%w (%d)", ErrTooManyPending, c.cfg.MaxPending)
	}
	c.pending[id] = cl
	if !c.watched[cl.conn] {
		c.watched[cl.conn] = true
		c.wg.Add(1)
		go c.watch(cl.conn)
	}
	return nil
}

// forget removes a pending call; it reports whether it was still there.
func (c *Client) forget(id uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.pending[id]
	delete(c.pending, id)
	return ok
}

// watch tells the reader when conn has ended.
func (c *Client) watch(conn *ss.Conn) {
	defer c.wg.Done()
	select {
	case <-conn.Context().Done():
		select {
		case c.ended <- conn:
		case <-c.done:
		}
	case <-c.done:
	}
}

// readLoop is the Client's goroutine: it matches replies to calls, passes
// plain messages on, and fails the calls of a connection that ended once
// the replies it had delivered are matched.
func (c *Client) readLoop(msgs <-chan ss.Message) {
	defer c.wg.Done()
	defer close(c.msgs)
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				c.failAll(nil, ss.ErrClosed)
				return
			}
			c.handle(m)
		case conn := <-c.ended:
			// Its messages were all in the channel when it ended (or were
			// discarded): take them first.
			for n := len(msgs); n > 0; n-- {
				if m, ok := <-msgs; ok {
					c.handle(m)
				}
			}
			c.mu.Lock()
			delete(c.watched, conn)
			c.mu.Unlock()
			c.failAll(conn, context.Cause(conn.Context()))
		}
	}
}

func (c *Client) handle(m ss.Message) {
	kind, id, data, err := decode(m.Data)
	switch {
	case err != nil || kind == kindRequest:
		c.malformed.Add(1)
	case kind == kindPush:
		if !c.subMsgs.Load() {
			c.dropped.Add(1)
			return
		}
		m.Data = data
		select {
		case c.msgs <- m:
			c.pushes.Add(1)
		case <-c.done:
		}
	default:
		c.mu.Lock()
		cl := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if cl == nil {
			c.late.Add(1)
			return
		}
		c.replies.Add(1)
		if kind == kindFailure {
			cl.reply <- result{err: &RemoteError{Message: string(data)}}
		} else {
			cl.reply <- result{data: data}
		}
	}
}

// failAll fails the pending calls of conn (of every connection if conn is
// nil) with ErrConnectionLost and why.
func (c *Client) failAll(conn *ss.Conn, why error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, cl := range c.pending {
		if conn == nil || cl.conn == conn {
			delete(c.pending, id)
			err := ErrConnectionLost
			if why != nil {
				err = fmt.Errorf("%w: %w", ErrConnectionLost, why)
			}
			cl.reply <- result{err: &CallError{Sent: true, Err: err}}
		}
	}
}

// Stats returns a snapshot of the counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	pending := len(c.pending)
	c.mu.Unlock()
	return Stats{
		Calls: c.calls.Load(), Replies: c.replies.Load(), LateReplies: c.late.Load(),
		Pending: int64(pending), Pushes: c.pushes.Load(), Dropped: c.dropped.Load(),
		Malformed: c.malformed.Load(),
	}
}

// Close closes the simplesockets Client, fails every pending call and
// waits for the Client's goroutines; Messages is closed. Calls after it
// fail with an error matching simplesockets.ErrClosed. It is idempotent.
func (c *Client) Close() error {
	c.once.Do(func() {
		c.mu.Lock()
		close(c.done)
		c.mu.Unlock()
		c.cli.Close() // closes its Messages: the reader fails what is pending and ends
		c.wg.Wait()
	})
	return nil
}
