package compat

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// RecvedData is one item of ReturnRecvedData: what one read from one
// connection brought. It mirrors the Python tuple (client_socket, address,
// data), plus the time it arrived.
//
// With Raw framing (the default) one item is one read of at most the receive
// buffer size: a peer's write may arrive as several items and several writes
// as one, exactly as with Python's socket.recv.
type RecvedData struct {
	// Conn is the connection the data arrived on (Python: client_socket).
	// It stays valid after the connection has gone; SendData on it then
	// returns an error matching simplesockets.ErrClosed.
	Conn *ss.Conn
	// Address is the peer's address, "ip:port" (Python: address). It is
	// the key of Server.Clients.
	Address string
	// Data is the payload; it belongs to the caller.
	Data []byte
	// Time is when the read that brought Data returned.
	Time time.Time
}

// Exception is one entry of the exception list (Python:
// event.exception.list). Entries are never merged: two failures in the
// same instant are two entries.
type Exception struct {
	// Err is the error. It matches (errors.Is) the simplesockets sentinel
	// errors, for instance simplesockets.ErrConnReset for a peer's reset or
	// ErrHookPanic for a hook that panicked.
	Err error
	// Address is the peer's address when the failure belongs to one
	// connection, and empty otherwise.
	Address string
	// Time is when the exception was recorded.
	Time time.Time
}

// Error returns Err's message, so an Exception can be printed as an error.
func (e Exception) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e Exception) Unwrap() error { return e.Err }

// EventKind says what an Event reports.
type EventKind int

const (
	// EventData is received data (Python: the "new data" event). The same
	// item is never also returned by ReturnRecvedData.
	EventData EventKind = iota + 1
	// EventException is a newly recorded exception. The exception stays in
	// the list that ReturnExceptions returns.
	EventException
	// EventConnect is a new connection.
	EventConnect
	// EventDisconnect is the end of a connection; Err says why.
	EventDisconnect
)

// String returns "data", "exception", "connect" or "disconnect".
func (k EventKind) String() string {
	switch k {
	case EventData:
		return "data"
	case EventException:
		return "exception"
	case EventConnect:
		return "connect"
	case EventDisconnect:
		return "disconnect"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// DefaultMaxRecvedBytes is the bound on received data held and not yet
// returned that Setup uses when MaxRecvedBytes is zero: 16 MiB.
const DefaultMaxRecvedBytes = 16 << 20

// recvedItemCost is what one held item counts beyond its data (the item,
// its Conn and Address fields and the list's slot).
const recvedItemCost = 128

// MaxExceptions is how many entries the exception list keeps at most (Python
// keeps them all). Beyond it the oldest entry is dropped and counted:
// ExceptionsDropped returns the count. An exception dropped before
// AwaitEvent returned it is not reported by AwaitEvent either.
const MaxExceptions = 1024

// MaxQueuedEvents is how many connect and disconnect events wait for
// AwaitEvent at most. Beyond it the oldest is discarded and counted in the
// Missed field of the next Event that AwaitEvent returns. Received data and
// exceptions wait in their own lists, with their own bounds:
// ServerSetup.MaxRecvedBytes (ClientSetup.MaxRecvedBytes) and
// MaxExceptions.
const MaxQueuedEvents = 4096

// Event is what AwaitEvent returns (Python: await_event, of later versions).
type Event struct {
	// Kind says what happened.
	Kind EventKind
	// Conn is the connection concerned (nil for an exception that belongs
	// to none).
	Conn *ss.Conn
	// Address is the peer's address (empty for an exception that belongs
	// to no connection).
	Address string
	// Data is the received data of an EventData.
	Data []byte
	// Err is the exception of an EventException, and the reason of an
	// EventDisconnect (it matches io.EOF for a clean
	// close, simplesockets.ErrConnReset for a reset, and so on).
	Err error
	// Time is when the event happened.
	Time time.Time
	// Missed counts connect and disconnect events discarded before this
	// one because more than MaxQueuedEvents were waiting.
	Missed int
}

type seqData struct {
	seq uint64
	RecvedData
}

type seqExc struct {
	seq uint64
	Exception
}

type seqEvent struct {
	seq uint64
	Event
}

// store holds what the pump collected: received data, the exception list
// and the lifecycle events, in arrival order (seq). Every method takes mu;
// changed is closed and replaced whenever something is added, which wakes
// AwaitEvent.
//
// The received data is bounded in bytes (held, counted by itemCost): in
// polling style the pump stops taking from the core while held has reached
// maxHeld (full, room), in callback style (keepLatest) addData drops the
// oldest items, which OnReceive had, and counts them.
type store struct {
	mu         sync.Mutex
	seq        uint64
	recved     []seqData
	held       int           // itemCost of every item of recved
	maxHeld    int           // bound of held; 0 until setRecvedBound (no bound)
	keepLatest bool          // callback style: drop the oldest items beyond maxHeld
	recvDrops  uint64        // items dropped by keepLatest
	room       chan struct{} // while the pump waits for room: closed when held < maxHeld
	excs       []seqExc
	excDrops   uint64 // exceptions dropped beyond MaxExceptions
	excSeen    uint64 // AwaitEvent has returned every exception with seq <= excSeen
	occurred   bool   // Python: event.exception.occurred
	life       []seqEvent
	missed     int
	closed     bool
	changed    chan struct{}
}

func newStore() *store { return &store{changed: make(chan struct{})} }

// notifyLocked wakes the waiters of AwaitEvent. mu must be held.
func (s *store) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// itemCost is what a held item counts against the bound.
func itemCost(d *RecvedData) int { return len(d.Data) + recvedItemCost }

// setRecvedBound sets the bound of the received data (Setup).
func (s *store) setRecvedBound(maxHeld int, keepLatest bool) {
	s.mu.Lock()
	s.maxHeld, s.keepLatest = maxHeld, keepLatest
	s.mu.Unlock()
}

func (s *store) addData(d RecvedData) {
	s.mu.Lock()
	s.seq++
	s.recved = append(s.recved, seqData{s.seq, d})
	s.held += itemCost(&d)
	if s.keepLatest {
		// The newest item stays, whatever its size.
		for s.held > s.maxHeld && len(s.recved) > 1 {
			s.takeFirstDataLocked()
			s.recvDrops++
		}
	}
	s.notifyLocked()
	s.mu.Unlock()
}

// takeFirstDataLocked removes the oldest received item. mu must be held.
func (s *store) takeFirstDataLocked() seqData {
	d := s.recved[0]
	s.recved[0] = seqData{}
	s.recved = s.recved[1:]
	if len(s.recved) == 0 {
		s.recved = nil
	}
	s.tookLocked(itemCost(&d.RecvedData))
	return d
}

// tookLocked accounts for n bytes of items taken out of recved and wakes
// the pump if it waits for room. mu must be held.
func (s *store) tookLocked(n int) {
	s.held -= n
	if s.room != nil && s.held < s.maxHeld {
		close(s.room)
		s.room = nil
	}
}

// roomChan returns nil if the pump may take the next message now, else a
// channel that is closed once it may: in polling style, when what is held
// has gone under the bound.
func (s *store) roomChan() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keepLatest || s.maxHeld <= 0 || s.held < s.maxHeld {
		return nil
	}
	if s.room == nil {
		s.room = make(chan struct{})
	}
	return s.room
}

func (s *store) recvedDropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recvDrops
}

func (s *store) exceptionsDropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.excDrops
}

func (s *store) addException(err error, addr string) {
	s.mu.Lock()
	s.seq++
	if len(s.excs) >= MaxExceptions {
		s.excs[0] = seqExc{}
		s.excs = s.excs[1:]
		s.excDrops++
	}
	s.excs = append(s.excs, seqExc{s.seq, Exception{Err: err, Address: addr, Time: time.Now()}})
	s.occurred = true
	s.notifyLocked()
	s.mu.Unlock()
}

func (s *store) addLifecycle(ev Event) {
	s.mu.Lock()
	s.seq++
	if len(s.life) >= MaxQueuedEvents {
		s.life[0] = seqEvent{}
		s.life = s.life[1:]
		s.missed++
	}
	s.life = append(s.life, seqEvent{s.seq, ev})
	s.notifyLocked()
	s.mu.Unlock()
}

// close marks the end: AwaitEvent returns what is left, then net.ErrClosed.
func (s *store) close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		s.notifyLocked()
	}
	s.mu.Unlock()
}

func (s *store) newData() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.recved) > 0
}

// returnRecved swaps the list out under the lock: an item that arrives
// while the caller works on the returned slice goes to the next call.
func (s *store) returnRecved() []RecvedData {
	s.mu.Lock()
	items := s.recved
	s.recved = nil
	s.tookLocked(s.held)
	s.mu.Unlock()
	out := make([]RecvedData, len(items))
	for i, it := range items {
		out[i] = it.RecvedData
	}
	return out
}

func (s *store) returnExceptions(del, reset bool) []Exception {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Exception, len(s.excs))
	for i, e := range s.excs {
		out[i] = e.Exception
	}
	if del {
		s.excs = nil
	}
	if reset {
		s.occurred = false
	}
	return out
}

func (s *store) exceptionOccurred() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.occurred
}

// nextLocked takes the oldest pending event: the first received item, the
// first exception AwaitEvent has not returned yet or the first lifecycle
// event, whichever arrived first. mu must be held.
func (s *store) nextLocked() (Event, bool) {
	const none = ^uint64(0)
	dSeq, lSeq, eSeq := none, none, none
	if len(s.recved) > 0 {
		dSeq = s.recved[0].seq
	}
	if len(s.life) > 0 {
		lSeq = s.life[0].seq
	}
	ei := -1
	for i := range s.excs {
		if s.excs[i].seq > s.excSeen {
			ei, eSeq = i, s.excs[i].seq
			break
		}
	}
	switch {
	case dSeq == none && lSeq == none && eSeq == none:
		return Event{}, false
	case dSeq < lSeq && dSeq < eSeq:
		d := s.takeFirstDataLocked()
		return s.withMissedLocked(Event{Kind: EventData, Conn: d.Conn, Address: d.Address, Data: d.Data, Time: d.Time}), true
	case eSeq < lSeq:
		e := s.excs[ei]
		s.excSeen = e.seq
		return s.withMissedLocked(Event{Kind: EventException, Address: e.Address, Err: e.Err, Time: e.Time, Conn: connOf(e.Err)}), true
	}
	ev := s.life[0]
	s.life[0] = seqEvent{}
	s.life = s.life[1:]
	if len(s.life) == 0 {
		s.life = nil
	}
	return s.withMissedLocked(ev.Event), true
}

func (s *store) withMissedLocked(ev Event) Event {
	ev.Missed, s.missed = s.missed, 0
	return ev
}

// await waits for the next event, until ctx ends or, once the owner is
// closed, nothing is left.
func (s *store) await(ctx context.Context, timeout <-chan time.Time) (Event, error) {
	for {
		s.mu.Lock()
		if ev, ok := s.nextLocked(); ok {
			s.mu.Unlock()
			return ev, nil
		}
		if s.closed {
			s.mu.Unlock()
			return Event{}, net.ErrClosed
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		case <-timeout:
			return Event{}, os.ErrDeadlineExceeded
		}
	}
}

// awaitTimeout is AwaitEvent: timeout <= 0 waits without limit.
func (s *store) awaitTimeout(timeout time.Duration) (Event, error) {
	if timeout <= 0 {
		return s.await(context.Background(), nil)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	return s.await(context.Background(), t.C)
}

// connOf digs the connection out of a *simplesockets.ConnError.
func connOf(err error) *ss.Conn {
	var ce *ss.ConnError
	if errors.As(err, &ce) {
		return ce.Conn
	}
	return nil
}

// recoverHook turns a panic in a user hook into an exception.
func recoverHook(st *store, hook, addr string) {
	if r := recover(); r != nil {
		st.addException(fmt.Errorf("%w: %s: %v", ErrHookPanic, hook, r), addr)
	}
}

func addrOf(c *ss.Conn) string {
	if c == nil || c.RemoteAddr() == nil {
		return ""
	}
	return c.RemoteAddr().String()
}

func errAddr(err error) string {
	var ce *ss.ConnError
	if errors.As(err, &ce) && ce.Remote != nil {
		return ce.Remote.String()
	}
	return ""
}

// setRecvedDefault fills in DefaultMaxRecvedBytes for zero and rejects a
// negative bound.
func setRecvedDefault(n *int) error {
	switch {
	case *n == 0:
		*n = DefaultMaxRecvedBytes
	case *n < 0:
		return fmt.Errorf("%w: MaxRecvedBytes %d is negative", ss.ErrInvalidConfig, *n)
	}
	return nil
}

// serverMessageBuffer sizes the core Server's Messages buffer so that the
// reads it holds (at most recvBuffer bytes each) come to about maxRecved:
// the core's default, 1024, unless the reads are large.
func serverMessageBuffer(recvBuffer, maxRecved int) int {
	return min(1024, max(clientMessageBuffer, maxRecved/max(recvBuffer, 1)))
}
