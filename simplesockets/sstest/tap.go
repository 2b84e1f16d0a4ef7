package sstest

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// Source is what has the four event channels of simplesockets: *ss.Server,
// *ss.Client, *Server and *Tap all satisfy it. Application code that reads
// its events through an interface of its own with these methods (or some
// of them) can be given a Tap in tests and the Server in production.
type Source interface {
	Connects() <-chan *ss.Conn
	Messages() <-chan ss.Message
	Disconnects() <-chan ss.Disconnect
	Errors() <-chan error
}

// The bounds of a Tap and the wait of the Tap and LineConn helpers. Tests
// of this package lower them (export_test.go); NewTap copies the bounds
// into the Tap, and only the test's goroutine reads timeout.
var (
	// timeout is DefaultTimeout, for the Tap's waits and LineConn.
	timeout = DefaultTimeout
	// tapHoldLimit is how many events a Tap holds back per channel whose
	// accessor has not been called.
	tapHoldLimit = 1024
	// tapRecordEvents and tapRecordBytes bound a Tap's record: events, and
	// bytes of message data.
	tapRecordEvents = 4096
	tapRecordBytes  = 16 << 20
)

// Tap stands between a Source and the application's loop, so that a test can
// run the application's real loop and still assert on the events: it takes
// over the source's four channels, re-delivers every event to the
// application on its own Connects, Messages, Disconnects and Errors, and
// keeps a record of them that WaitConnect, WaitMessage, WaitDisconnect,
// WaitError and Seen read without taking anything from the application.
//
//	srv := sstest.NewServer(t, cfg)
//	tap := sstest.NewTap(t, srv)
//	go app.Run(tap) // the application's loop, reading the Tap's channels
//	...
//	tap.WaitMessage(t, func(m ss.Message) bool { return string(m.Data) == "hello" })
//
// Once a source is tapped, nothing else may receive from its channels:
// neither the application nor the package-level WaitConnect, WaitMessage,
// WaitDisconnect and WaitError, nor Server.Connect and NewPair (use
// Server.Dial and Tap.WaitConnect instead).
//
// # Order
//
// One goroutine receives from the source with a single select loop, and
// simplesockets delivers to such a loop each connection's Connect before its
// Messages, its Messages in order, and its Disconnect after its last
// Message, for the connections made once the channels are subscribed, so
// tap a source before its first connection. The Tap keeps that order, and
// more: it hands its events to the
// application one at a time, on unbuffered channels, in the order it
// received them, and takes nothing more from the source while an event is
// offered. So an application whose loop has called the accessors of the
// channels it reads before receiving its first event receives exactly the
// Tap's order: every event of those channels, one total order that is the
// source's per-connection order for each connection. It also receives an
// event only after the Tap has recorded it.
//
// As in simplesockets, a channel is subscribed once its accessor has been
// called, and a subscribed channel is a promise to read it: an event
// offered there waits, and so does everything after it. An event for a
// channel not subscribed yet is held back and delivered, in its place in
// the order, once the accessor is called, so an application that starts
// its loop after the first connection misses nothing and still gets the
// order. At most 1024 events are held back per channel: beyond that,
// Connects, Disconnects and Errors are dropped for the application (they
// are still recorded, and counted in Record.Dropped), and Messages are not
// taken from the source until the application asks for them, which is
// simplesockets' own backpressure. An application that subscribes a channel
// after it has received events from others gets that channel's held-back
// events after them.
//
// # Record
//
// The record keeps every event the Tap received, as soon as it received it,
// up to the latest 4096 events and 16 MiB of message data (the newest event
// is always kept); older ones are forgotten, counted in Record.Forgotten.
// A recorded Message holds a copy of the data, taken before the
// application got the message, so the application may modify or Release
// its own. A Wait returning means that the source produced the event, not
// that the application has received or handled it.
//
// # End
//
// When the source has closed its four channels (its Serve returned, or the
// Client was closed), the Tap delivers what it still has for subscribed
// channels, then closes its own four channels together, so the
// application's loop ends as it would on the source's; a channel that was
// never subscribed stays open while it holds events back, until its
// accessor is called or the test ends. The Tap's goroutine then returns.
//
// NewTap registers a cleanup on tb that stops delivering: the Tap drops
// what it has not delivered, closes its channels (ending the application's
// loop if it still runs) and keeps taking the source's events until the
// source is closed, as the cleanup of NewServer or Server.Dial does right
// after, since cleanups run last-registered first.
//
// The accessors, Seen and the Wait methods are safe for concurrent use;
// the methods taking a testing.TB must be called from the test's
// goroutine.
type Tap struct {
	connects    chan *ss.Conn
	messages    chan ss.Message
	disconnects chan ss.Disconnect
	errors      chan error

	subOnce  [numKinds]sync.Once
	sub      chan kind     // an accessor's first call hands its kind to run
	stop     chan struct{} // closed by the cleanup
	stopOnce sync.Once
	done     chan struct{} // closed when run has returned

	holdLimit int

	mu        sync.Mutex
	rec       []event // the record is rec[start:], oldest first
	start     int
	recBytes  int // message data in the record
	maxEvents int
	maxBytes  int
	forgotten uint64 // events removed from the record; the sequence number of rec[start]
	dropped   uint64
	ended     bool          // the source's channels are all closed
	changed   chan struct{} // closed and replaced when the record changes
}

// kind is one of the four channels.
type kind uint8

const (
	kindConnect kind = iota
	kindMessage
	kindDisconnect
	kindError
	numKinds
)

var kindNames = [numKinds]string{"connection", "message", "disconnect", "error"}

// event is one event of any kind.
type event struct {
	kind kind
	seq  uint64 // its place in the order the Tap received events
	conn *ss.Conn
	msg  ss.Message
	disc ss.Disconnect
	err  error
}

// NewTap takes over src's four channels (calling their accessors, which
// subscribes them) and returns a Tap that re-delivers their events and
// records them. See Tap for what it guarantees.
func NewTap(tb testing.TB, src Source) *Tap {
	tb.Helper()
	t := &Tap{
		connects:    make(chan *ss.Conn),
		messages:    make(chan ss.Message),
		disconnects: make(chan ss.Disconnect),
		errors:      make(chan error),
		sub:         make(chan kind),
		stop:        make(chan struct{}),
		done:        make(chan struct{}),
		holdLimit:   max(tapHoldLimit, 1),
		maxEvents:   max(tapRecordEvents, 1),
		maxBytes:    tapRecordBytes,
		changed:     make(chan struct{}),
	}
	// Subscribe to the source now, so that its events from here on are
	// ordered for the Tap's loop.
	go t.run(src.Connects(), src.Messages(), src.Disconnects(), src.Errors())
	tb.Cleanup(func() { t.stopOnce.Do(func() { close(t.stop) }) })
	return t
}

// Connects delivers the source's Connects, in the Tap's order. Calling it
// subscribes the channel: read it.
func (t *Tap) Connects() <-chan *ss.Conn {
	t.subscribe(kindConnect)
	return t.connects
}

// Messages delivers the source's Messages, in the Tap's order. Calling it
// subscribes the channel: read it.
func (t *Tap) Messages() <-chan ss.Message {
	t.subscribe(kindMessage)
	return t.messages
}

// Disconnects delivers the source's Disconnects, in the Tap's order.
// Calling it subscribes the channel: read it.
func (t *Tap) Disconnects() <-chan ss.Disconnect {
	t.subscribe(kindDisconnect)
	return t.disconnects
}

// Errors delivers the source's Errors, in the Tap's order. Calling it
// subscribes the channel: read it.
func (t *Tap) Errors() <-chan error {
	t.subscribe(kindError)
	return t.errors
}

// subscribe tells run, the first time, that k is subscribed, and returns
// once run knows: the application's next receive sees the right offer.
func (t *Tap) subscribe(k kind) {
	t.subOnce[k].Do(func() {
		select {
		case t.sub <- k:
		case <-t.done:
		}
	})
}

// run is the Tap's goroutine: it takes the source's events, records them
// and offers them to the application one at a time, earliest first among
// the subscribed channels.
func (t *Tap) run(srcC <-chan *ss.Conn, srcM <-chan ss.Message, srcD <-chan ss.Disconnect, srcE <-chan error) {
	defer close(t.done)
	var (
		queue      [numKinds][]event // not yet delivered, per channel, in order
		subscribed [numKinds]bool
		outClosed  [numKinds]bool
		stopping   bool
		seq        uint64
		stop       = t.stop
	)
	closeOutput := func(k kind) {
		if outClosed[k] {
			return
		}
		outClosed[k] = true
		switch k {
		case kindConnect:
			close(t.connects)
		case kindMessage:
			close(t.messages)
		case kindDisconnect:
			close(t.disconnects)
		case kindError:
			close(t.errors)
		}
	}
	add := func(e event) {
		e.seq = seq
		seq++
		if stopping {
			return
		}
		// Only lifecycle events can be over the limit: Messages are not
		// taken from the source while their queue is full.
		drop := !subscribed[e.kind] && len(queue[e.kind]) >= t.holdLimit
		t.record(e, drop)
		if !drop {
			queue[e.kind] = append(queue[e.kind], e)
		}
	}
	for {
		srcOpen := srcC != nil || srcM != nil || srcD != nil || srcE != nil
		// The offer: the earliest event among subscribed channels.
		offer := numKinds
		if !stopping {
			for k := range numKinds {
				if subscribed[k] && len(queue[k]) > 0 && (offer == numKinds || queue[k][0].seq < queue[offer][0].seq) {
					offer = k
				}
			}
		}
		if !srcOpen && offer == numKinds {
			// Everything subscribed is delivered: close the outputs but
			// those of channels not subscribed that still hold events
			// back for a late accessor call.
			allClosed := true
			for k := range numKinds {
				if len(queue[k]) == 0 {
					closeOutput(k)
				}
				allClosed = allClosed && outClosed[k]
			}
			if allClosed {
				return
			}
		}

		var (
			outC chan *ss.Conn
			outM chan ss.Message
			outD chan ss.Disconnect
			outE chan error
			head event
		)
		if offer != numKinds {
			head = queue[offer][0]
			switch offer {
			case kindConnect:
				outC = t.connects
			case kindMessage:
				outM = t.messages
			case kindDisconnect:
				outD = t.disconnects
			case kindError:
				outE = t.errors
			}
		}
		// Take from the source only when nothing is offered (or when
		// stopping, to let the source end), and Messages only while they
		// can be queued.
		var (
			inC <-chan *ss.Conn
			inM <-chan ss.Message
			inD <-chan ss.Disconnect
			inE <-chan error
		)
		if offer == numKinds {
			inC, inM, inD, inE = srcC, srcM, srcD, srcE
			if !stopping && !subscribed[kindMessage] && len(queue[kindMessage]) >= t.holdLimit {
				inM = nil
			}
		}

		delivered := false
		select {
		case outC <- head.conn:
			delivered = true
		case outM <- head.msg:
			delivered = true
		case outD <- head.disc:
			delivered = true
		case outE <- head.err:
			delivered = true
		case k := <-t.sub:
			subscribed[k] = true
		case <-stop:
			stop, stopping = nil, true
			n := 0
			for k := range numKinds {
				n += len(queue[k])
				queue[k] = nil
			}
			t.mu.Lock()
			t.dropped += uint64(n)
			t.mu.Unlock()
			for k := range numKinds {
				closeOutput(k)
			}
		case c, ok := <-inC:
			if !ok {
				srcC = nil
				break
			}
			add(event{kind: kindConnect, conn: c})
		case m, ok := <-inM:
			if !ok {
				srcM = nil
				break
			}
			add(event{kind: kindMessage, msg: m})
		case d, ok := <-inD:
			if !ok {
				srcD = nil
				break
			}
			add(event{kind: kindDisconnect, disc: d})
		case e, ok := <-inE:
			if !ok {
				srcE = nil
				break
			}
			add(event{kind: kindError, err: e})
		}
		if delivered {
			queue[offer][0] = event{}
			queue[offer] = queue[offer][1:]
		}
		if srcOpen && srcC == nil && srcM == nil && srcD == nil && srcE == nil {
			t.mu.Lock()
			t.ended = true
			t.notifyLocked()
			t.mu.Unlock()
		}
	}
}

// record adds e to the record, with a copy of a message's data, counts it
// as dropped if drop is set, and forgets the oldest events beyond the
// bounds.
func (t *Tap) record(e event, drop bool) {
	if e.kind == kindMessage {
		// A Message of our own, without the source's buffer: Release on
		// it does nothing, and the application's Release cannot touch it.
		e.msg = ss.Message{Conn: e.msg.Conn, Data: bytes.Clone(e.msg.Data), Time: e.msg.Time}
		e.conn = e.msg.Conn
	}
	if e.kind == kindDisconnect {
		e.conn = e.disc.Conn
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if drop {
		t.dropped++
	}
	t.rec = append(t.rec, e)
	t.recBytes += len(e.msg.Data)
	for len(t.rec)-t.start > 1 && (len(t.rec)-t.start > t.maxEvents || t.recBytes > t.maxBytes) {
		t.recBytes -= len(t.rec[t.start].msg.Data)
		t.rec[t.start] = event{}
		t.start++
		t.forgotten++
	}
	if t.start > len(t.rec)/2 {
		n := copy(t.rec, t.rec[t.start:])
		clear(t.rec[n:])
		t.rec = t.rec[:n]
		t.start = 0
	}
	t.notifyLocked()
}

// notifyLocked wakes the waiters. t.mu is held.
func (t *Tap) notifyLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// Record is what a Tap has received from its source, each kind in the
// order it arrived. Its slices are copies, but a Message's Data is shared
// with the record: treat it as read-only.
type Record struct {
	Connects    []*ss.Conn
	Messages    []ss.Message // with copies of the data the application got
	Disconnects []ss.Disconnect
	Errors      []error

	// Forgotten counts the oldest events no longer in the record, which
	// keeps the latest 4096 events and 16 MiB of message data.
	Forgotten uint64
	// Dropped counts events recorded but not delivered to the application:
	// held back beyond the limit for a channel nobody subscribed, or not yet
	// delivered when the test's cleanup stopped the Tap.
	Dropped uint64
}

// Seen returns a snapshot of the record.
func (t *Tap) Seen() Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := Record{Forgotten: t.forgotten, Dropped: t.dropped}
	for _, e := range t.rec[t.start:] {
		switch e.kind {
		case kindConnect:
			r.Connects = append(r.Connects, e.conn)
		case kindMessage:
			r.Messages = append(r.Messages, e.msg)
		case kindDisconnect:
			r.Disconnects = append(r.Disconnects, e.disc)
		case kindError:
			r.Errors = append(r.Errors, e.err)
		}
	}
	return r
}

// WaitConnect returns the earliest recorded connection for which match
// returns true (nil matches any), waiting up to DefaultTimeout for it to
// arrive. It takes nothing from the application, so calling it again
// returns the same connection. It fails the test on timeout, or once the
// source has closed its channels without such a connection.
func (t *Tap) WaitConnect(tb testing.TB, match func(*ss.Conn) bool) *ss.Conn {
	tb.Helper()
	return tapWait(t, tb, kindConnect, func(e event) *ss.Conn { return e.conn }, match)
}

// WaitMessage returns the earliest recorded message for which match
// returns true (nil matches any), waiting up to DefaultTimeout for it to
// arrive. Its Data is the record's copy. It takes nothing from the
// application, so calling it again returns the same message. It fails the
// test on timeout, or once the source has closed its channels without
// such a message.
func (t *Tap) WaitMessage(tb testing.TB, match func(ss.Message) bool) ss.Message {
	tb.Helper()
	return tapWait(t, tb, kindMessage, func(e event) ss.Message { return e.msg }, match)
}

// WaitDisconnect returns the earliest recorded Disconnect for which match
// returns true (nil matches any), waiting up to DefaultTimeout for it to
// arrive. It takes nothing from the application. It fails the test on
// timeout, or once the source has closed its channels without such a
// Disconnect.
func (t *Tap) WaitDisconnect(tb testing.TB, match func(ss.Disconnect) bool) ss.Disconnect {
	tb.Helper()
	return tapWait(t, tb, kindDisconnect, func(e event) ss.Disconnect { return e.disc }, match)
}

// WaitError returns the earliest recorded error for which match returns
// true (nil matches any), waiting up to DefaultTimeout for it to arrive.
// It takes nothing from the application. It fails the test on timeout, or
// once the source has closed its channels without such an error.
func (t *Tap) WaitError(tb testing.TB, match func(error) bool) error {
	tb.Helper()
	return tapWait(t, tb, kindError, func(e event) error { return e.err }, match)
}

// tapWait scans the record from its oldest event, then each new one as it
// arrives, for the first event of kind k that match accepts. match runs
// without the Tap's lock held.
func tapWait[T any](t *Tap, tb testing.TB, k kind, get func(event) T, match func(T) bool) T {
	tb.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var next uint64 // sequence number in the record of the next event to look at
	for {
		t.mu.Lock()
		next = max(next, t.forgotten)
		var candidates []T
		for _, e := range t.rec[t.start+int(next-t.forgotten):] {
			if e.kind == k {
				candidates = append(candidates, get(e))
			}
		}
		next = t.forgotten + uint64(len(t.rec)-t.start)
		ended, changed := t.ended, t.changed
		t.mu.Unlock()
		for _, v := range candidates {
			if match == nil || match(v) {
				return v
			}
		}
		if ended {
			tb.Fatalf("sstest: Tap: the source closed its channels without a matching %s; %s", kindNames[k], t.summary(k))
		}
		select {
		case <-changed:
		case <-timer.C:
			tb.Fatalf("sstest: Tap: no matching %s within %v; %s", kindNames[k], timeout, t.summary(k))
		}
	}
}

// summary describes the recorded events of kind k, for a failure message.
func (t *Tap) summary(k kind) string {
	const show = 5
	t.mu.Lock()
	defer t.mu.Unlock()
	var all []string
	for _, e := range t.rec[t.start:] {
		if e.kind == k {
			all = append(all, describe(e))
		}
	}
	if len(all) == 0 {
		return fmt.Sprintf("recorded no %s", kindNames[k])
	}
	s := fmt.Sprintf("recorded %d %s(s)", len(all), kindNames[k])
	if len(all) > show {
		s += fmt.Sprintf(", the last %d", show)
		all = all[len(all)-show:]
	}
	return s + ": " + strings.Join(all, ", ")
}

// describe formats e for a failure message.
func describe(e event) string {
	const maxData = 64
	switch e.kind {
	case kindMessage:
		d := e.msg.Data
		if len(d) > maxData {
			return fmt.Sprintf("%q... (%d bytes) on %v", d[:maxData], len(d), e.msg.Conn)
		}
		return fmt.Sprintf("%q on %v", d, e.msg.Conn)
	case kindDisconnect:
		return fmt.Sprintf("%v: %v", e.disc.Conn, e.disc.Err)
	case kindError:
		return fmt.Sprintf("%v", e.err)
	}
	return fmt.Sprintf("%v", e.conn)
}
