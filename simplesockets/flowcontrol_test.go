package simplesockets_test

// Flow-control regression tests (issue 11): one peer that does not read, a
// burst larger than the send limit, a slow but steady reader, headers that
// announce large frames, a flooding peer and absurd configurations must
// neither stall the application and the other peers nor take memory the
// peers did not send. Black-box: public API, real sockets on 127.0.0.1.
//
// Every test ends by itself: waits have deadlines, and what a test starts
// (servers, clients, sockets, goroutines) is closed and waited for in its
// cleanups, so that goleak finds nothing.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// flowWait bounds every wait that only fails when the code under test hangs.
const flowWait = 10 * time.Second

// flowServe serves cfg on a fresh 127.0.0.1 port; its cleanup closes the
// server and waits for Serve.
func flowServe(t *testing.T, cfg ss.ServerConfig) (*ss.Server, string) {
	t.Helper()
	return serveWait(t, cfg, flowWait)
}

// serveWait is flowServe with the cleanup's wait for Serve as a parameter.
func serveWait(t *testing.T, cfg ss.ServerConfig, wait time.Duration) (*ss.Server, string) {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	srv := listening(t, cfg)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(context.Background())
	}()
	t.Cleanup(func() {
		srv.Close()
		select {
		case <-done:
		case <-time.After(wait):
			t.Error("Serve did not return after Close")
		}
	})
	return srv, srv.Addr().String()
}

// flowGroup runs a test's own goroutines. Its cleanup (registered when it
// is made, so it runs before the cleanups registered earlier, such as the
// server's) cancels its context, closes the sockets handed to closeOnStop
// (which unblocks their reads and writes) and waits for the goroutines.
type flowGroup struct {
	t      *testing.T
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []io.Closer
}

func newFlowGroup(t *testing.T) *flowGroup {
	g := &flowGroup{t: t}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	t.Cleanup(g.stop)
	return g
}

func (g *flowGroup) stop() {
	g.cancel()
	g.mu.Lock()
	for _, c := range g.conns {
		c.Close()
	}
	g.mu.Unlock()
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(flowWait):
		g.t.Error("the test's goroutines did not end")
	}
}

func (g *flowGroup) Go(f func(ctx context.Context)) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f(g.ctx)
	}()
}

func (g *flowGroup) closeOnStop(c io.Closer) {
	g.mu.Lock()
	g.conns = append(g.conns, c)
	g.mu.Unlock()
}

// dial opens a raw TCP connection, closed when the group stops.
func (g *flowGroup) dial(addr string) net.Conn {
	g.t.Helper()
	c, err := net.DialTimeout("tcp", addr, flowWait)
	if err != nil {
		g.t.Fatal(err)
	}
	g.closeOnStop(c)
	return c
}

// flowDial dials a Client; its cleanup closes it.
func flowDial(t *testing.T, addr string, o ss.Options) *ss.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), flowWait)
	defer cancel()
	cli, err := ss.Dial(ctx, ss.ClientConfig{Addr: addr, Options: o})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// flowDiscs records the Disconnects an echo loop received, by the remote
// address the server saw (the peer's LocalAddr).
type flowDiscs struct {
	mu      sync.Mutex
	reasons map[string]error
	changed chan struct{} // closed and replaced on every add
}

func (f *flowDiscs) add(d ss.Disconnect) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d.Conn != nil && d.Conn.RemoteAddr() != nil {
		f.reasons[d.Conn.RemoteAddr().String()] = d.Err
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

// wait returns the reason of the Disconnect of the peer whose local
// address is key, and false if none came within d.
func (f *flowDiscs) wait(key string, d time.Duration) (error, bool) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		f.mu.Lock()
		err, ok := f.reasons[key]
		ch := f.changed
		f.mu.Unlock()
		if ok {
			return err, true
		}
		select {
		case <-ch:
		case <-timer.C:
			return nil, false
		}
	}
}

// flowEcho runs the README's select loop on srv: every message is sent
// back on its connection, Disconnects are recorded. Its cleanup cancels the
// loop and closes the server (which unblocks a Send the loop may be stuck
// in), then waits for the loop.
func flowEcho(t *testing.T, srv *ss.Server) *flowDiscs { return echoLoop(t, srv, flowWait) }

// echoLoop is flowEcho with the cleanup's wait for the loop as a parameter.
func echoLoop(t *testing.T, srv *ss.Server, wait time.Duration) *flowDiscs {
	discs := &flowDiscs{reasons: make(map[string]error), changed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	connects, disconnects, messages, errs := srv.Connects(), srv.Disconnects(), srv.Messages(), srv.Errors()
	go func() {
		defer close(done)
		for {
			select {
			case _, ok := <-connects:
				if !ok {
					return
				}
			case d, ok := <-disconnects:
				if !ok {
					return
				}
				discs.add(d)
			case m, ok := <-messages:
				if !ok {
					return
				}
				_ = m.Conn.Send(m.Data)
			case _, ok := <-errs:
				if !ok {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		srv.Close()
		select {
		case <-done:
		case <-time.After(wait):
			t.Error("the echo loop did not end after Close")
		}
	})
	return discs
}

// len32Frame returns payload with its 4-byte big-endian length prefix.
func len32Frame(payload []byte) []byte {
	f := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(payload)), uint32(len(payload)))
	return append(f, payload...)
}

// flooder writes frame on c up to n times (0: until stopped), as fast as
// the socket takes it and without ever reading. It stops at the first
// write error or when the group stops (which closes c). sent counts the
// bytes written; reached is closed once sent >= mark (if reached is not
// nil); the returned channel is closed when the flooder has ended.
func flooder(g *flowGroup, c net.Conn, frame []byte, n int, sent *atomic.Int64, mark int64, reached chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	g.Go(func(ctx context.Context) {
		defer close(done)
		var once sync.Once
		for i := 0; n == 0 || i < n; i++ {
			if ctx.Err() != nil {
				return
			}
			k, err := c.Write(frame)
			if reached != nil && sent.Add(int64(k)) >= mark {
				once.Do(func() { close(reached) })
			}
			if err != nil {
				return
			}
		}
	})
	return done
}

// pollUntil checks cond every 10ms until it holds or d has passed.
func pollUntil(d time.Duration, cond func() bool) bool {
	return pollUntilEvery(d, 10*time.Millisecond, cond)
}

// pollUntilEvery checks cond every period until it holds or d has passed.
func pollUntilEvery(d, period time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(period)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// roundTrip sends p on cli and waits up to limit for the echo; it returns
// how long that took, or an error.
func roundTrip(cli *ss.Client, p []byte, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	if err := cli.Send(p); err != nil {
		return 0, fmt.Errorf("Send: %w", err)
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case m, ok := <-cli.Messages():
		if !ok {
			return 0, errors.New("Messages closed")
		}
		if !bytes.Equal(m.Data, p) {
			return 0, fmt.Errorf("echo %q, want %q", m.Data, p)
		}
		return time.Since(start), nil
	case <-timer.C:
		return 0, fmt.Errorf("no echo within %v", limit)
	}
}

// Scenario 1. A peer that sends continuously and never reads used to stop
// the README's echo loop for everyone: the loop's Send waited (SendQueueBlock
// was the zero value) for room in that peer's queue, which never came. With
// the zero-value policy a Server's Send waits only while the peer's socket
// accepts bytes, so the other clients' round trips stay fast and the peer
// is cut off as a slow consumer.
func TestFlowOnePeerFreezesEveryone(t *testing.T) {
	opts := ss.Options{Framing: ss.LengthPrefixed(0)}
	srv, addr := flowServe(t, ss.ServerConfig{Options: opts})
	discs := flowEcho(t, srv)
	cli := flowDial(t, addr, opts)
	g := newFlowGroup(t)

	// Enough that, echoed, it overflows the bad peer's send queue (4 MiB)
	// and the kernel's socket buffers on both sides many times over.
	const mark = 24 << 20
	bad := g.dial(addr)
	var sent atomic.Int64
	reached := make(chan struct{})
	ended := flooder(g, bad, len32Frame(bytes.Repeat([]byte("b"), 60_000)), 0, &sent, mark, reached)
	select {
	case <-reached:
	case <-ended: // cut off already
	case <-time.After(5 * time.Second):
		t.Logf("the bad peer wrote only %d bytes in 5s; measuring anyway", sent.Load())
	}

	for i := range 20 {
		p := fmt.Appendf(nil, "ping %02d %s", i, strings.Repeat(".", 48))
		d, err := roundTrip(cli, p, time.Second)
		if err != nil {
			t.Fatalf("round trip %d while a peer sends and does not read (it wrote %d bytes): %v", i, sent.Load(), err)
		}
		if d >= time.Second {
			t.Fatalf("round trip %d took %v", i, d)
		}
	}

	reason, ok := discs.wait(bad.LocalAddr().String(), 5*time.Second)
	switch {
	case !ok:
		t.Fatalf("the peer that never reads was not disconnected (it wrote %d bytes)", sent.Load())
	case !errors.Is(reason, ss.ErrSlowConsumer):
		t.Fatalf("the peer that never reads ended with %v, want ErrSlowConsumer", reason)
	}
}

// Scenario 2. A burst of Sends larger than MaxQueuedBytes to a peer that
// reads all the time used to fail (the former SendQueueFail) or cut the peer
// (SendQueueDisconnect) just because the application queued faster than
// the socket drained: a slow consumer must be judged by its socket, not by
// the application's burst.
func TestFlowHealthyReaderNotDropped(t *testing.T) {
	const limit = 64 << 10
	for _, tc := range []struct {
		name  string
		lines int
	}{
		{"100 lines", 100},          // 100 KB: 1.5 times the limit
		{"10 times the limit", 700}, // 700 KB
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, addr := flowServe(t, ss.ServerConfig{Options: ss.Options{
				Framing:        ss.Lines(0),
				MaxQueuedBytes: limit,
				SendPolicy:     ss.SendQueueDisconnect,
			}})
			connects := srv.Connects()
			g := newFlowGroup(t)
			nc := g.dial(addr)

			line := func(i int) []byte { return fmt.Appendf(nil, "%06d%s", i, bytes.Repeat([]byte("x"), 994)) }
			var want []byte
			for i := range tc.lines {
				want = append(append(want, line(i)...), '\n')
			}
			got := make(chan error, 1)
			g.Go(func(context.Context) { // reads continuously, as fast as it can
				nc.SetReadDeadline(time.Now().Add(15 * time.Second))
				buf := make([]byte, len(want))
				n, err := io.ReadFull(nc, buf)
				switch {
				case err != nil:
					got <- fmt.Errorf("the reader got %d of %d bytes: %w", n, len(want), err)
				case !bytes.Equal(buf, want):
					got <- errors.New("the reader got other bytes than were sent")
				default:
					got <- nil
				}
			})

			c := recvFlow(t, connects, "connect")
			for i := range tc.lines {
				if err := c.Send(line(i)); err != nil {
					t.Fatalf("Send #%d of %d lines of 1,000 bytes (MaxQueuedBytes %d) to a peer that reads: %v", i+1, tc.lines, limit, err)
				}
			}
			select {
			case err := <-got:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the reader did not finish") // its read deadline is shorter: not reached
			}
		})
	}
}

// recvFlow waits up to flowWait for one value on ch.
func recvFlow[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatalf("%s: channel closed", what)
		}
		return v
	case <-time.After(flowWait):
		t.Fatalf("%s: nothing within %v", what, flowWait)
	}
	panic("unreachable")
}

// Scenario 3. WriteTimeout used to bound one write call, so a large queue
// written to a peer that reads steadily but slowly (about 3 MB/s here)
// ended with ErrWriteTimeout although every write moved bytes. It means
// "no write progress for that long".
func TestFlowWriteTimeoutIsNoProgress(t *testing.T) {
	srv, addr := flowServe(t, ss.ServerConfig{Options: ss.Options{
		WriteTimeout:   time.Second,
		SendPolicy:     ss.SendQueueBlock,
		MaxQueuedBytes: 64 << 20,
	}})
	connects, disconnects := srv.Connects(), srv.Disconnects()
	g := newFlowGroup(t)
	nc := g.dial(addr)
	c := recvFlow(t, connects, "connect")

	const chunk, chunks = 64 << 10, 128 // 8 MiB
	want := make([]byte, chunk*chunks)
	for i := range want {
		want[i] = byte(i % 251)
	}
	// The peer reads 64 KiB every 20 ms: the ticker paces it.
	start := time.Now()
	type result struct {
		n   int
		err error
	}
	res := make(chan result, 1)
	g.Go(func(ctx context.Context) {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		nc.SetReadDeadline(time.Now().Add(18 * time.Second))
		got := make([]byte, len(want))
		n := 0
		for n < len(got) {
			select {
			case <-tick.C:
			case <-ctx.Done():
				res <- result{n, ctx.Err()}
				return
			}
			k, err := io.ReadFull(nc, got[n:min(n+chunk, len(got))])
			n += k
			if err != nil {
				res <- result{n, err}
				return
			}
		}
		if !bytes.Equal(got, want) {
			res <- result{n, errors.New("other bytes than were sent")}
			return
		}
		res <- result{n, nil}
	})
	// Queued in one Send, once the peer reads: the queue takes about 2.6s
	// to drain, and every 20ms some of it moves.
	if err := c.Send(want); err != nil {
		t.Fatalf("Send: %v", err)
	}
	var r result
	select {
	case r = <-res:
	case <-time.After(20 * time.Second):
		t.Fatal("the slow reader did not finish") // its read deadline is shorter: not reached
	}
	if r.err != nil {
		reason := "no Disconnect yet"
		select {
		case d := <-disconnects:
			reason = fmt.Sprintf("Disconnect %v", d.Err)
		case <-time.After(2 * time.Second):
		}
		t.Fatalf("a peer reading 64 KiB every 20ms got %d of %d bytes after %v: %v (%s)",
			r.n, len(want), time.Since(start).Round(time.Millisecond), r.err, reason)
	}
	select {
	case d := <-disconnects:
		t.Fatalf("the slow reader was disconnected: %v", d.Err)
	default:
	}
}

// Scenario 4. A 4-byte header announcing a 4 MiB frame used to make the
// reader allocate the whole frame at once: 200 such connections pinned
// 800 MiB. A frame's buffer may grow only with bytes that arrived.
func TestFlowHeaderDoesNotPinMemory(t *testing.T) {
	const conns, announced = 200, 4 << 20 // LengthPrefixed(0)'s limit
	srv, addr := flowServe(t, ss.ServerConfig{Options: ss.Options{Framing: ss.LengthPrefixed(0)}})
	g := newFlowGroup(t)

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	header := binary.BigEndian.AppendUint32(nil, announced)
	for range conns {
		c := g.dial(addr)
		if _, err := c.Write(header); err != nil {
			t.Fatal(err)
		}
	}
	if !pollUntil(flowWait, func() bool { return srv.Stats().BytesIn >= conns*4 }) {
		t.Fatalf("the server read %d of the %d header bytes", srv.Stats().BytesIn, conns*4)
	}

	// A few samples over half a second: a reader may allocate just after
	// counting the bytes it read.
	var peak uint64
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := range 6 {
		if i > 0 {
			<-tick.C
		}
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	const limit = 64 << 20
	if peak > before.HeapInuse && peak-before.HeapInuse >= limit {
		t.Fatalf("%d connections that sent only a header announcing %d bytes grew HeapInuse by %d MiB (limit %d MiB)",
			conns, announced, (peak-before.HeapInuse)>>20, limit>>20)
	}
}

// Scenario 5. Inbound memory is bounded in bytes per connection: a peer
// flooding 1 MiB frames while the application does not read Messages used to
// fill the whole Messages channel (1024 messages: 1 GiB) and the other
// connections' messages queued behind it.
//
// The bound asserted: once the flooder is blocked (BytesIn no longer
// grows), the bytes read from it and not yet received by the application
// (all of BytesIn: nothing was received) are at most
//
//	MaxPendingBytes + 3 frames + 64 KiB
//
// that is what is pending, the frame that crossed the limit, one frame
// partly read, and read-buffer slack.
func TestFlowInboundBoundedInBytes(t *testing.T) {
	const (
		maxPending = 2 << 20
		payload    = 1 << 20
		frames     = 64 // the flooder stops there: 64 MiB, far over the bound
		wire       = payload + 4
		bound      = maxPending + 3*wire + 64<<10
	)
	srv, addr := flowServe(t, ss.ServerConfig{Options: ss.Options{
		Framing:         ss.LengthPrefixed(0),
		MaxPendingBytes: maxPending,
	}})
	g := newFlowGroup(t)
	normal := g.dial(addr)
	flood := g.dial(addr)
	flooder(g, flood, len32Frame(bytes.Repeat([]byte("f"), payload)), frames, new(atomic.Int64), 0, nil)

	// Wait until the flooder is blocked: BytesIn equal in two reads 500ms
	// apart (and at least one frame in).
	var settled uint64
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(15 * time.Second)
	for prev := uint64(0); ; {
		<-tick.C
		cur := srv.Stats().BytesIn
		if cur == prev && cur >= wire {
			settled = cur
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("BytesIn never stopped growing: %d", cur)
		}
		prev = cur
	}
	if settled > bound {
		t.Fatalf("read %d bytes (%.1f MiB) from a flooding peer while the application received nothing; bound MaxPendingBytes + 3 frames + 64 KiB = %d (%.1f MiB)",
			settled, float64(settled)/(1<<20), bound, float64(bound)/(1<<20))
	}

	// Another peer's message is read while the flooder is held back, and the
	// application gets it among its first messages, not after the flood.
	marker := []byte("normal client: hello")
	if _, err := normal.Write(len32Frame(marker)); err != nil {
		t.Fatal(err)
	}
	if !pollUntil(5*time.Second, func() bool { return srv.Stats().BytesIn >= settled+uint64(4+len(marker)) }) {
		t.Fatal("another client's message was not read within 5s while the flooder was held back")
	}
	key := normal.LocalAddr().String()
	for i := range 10 {
		m := recvFlow(t, srv.Messages(), "message")
		if m.Conn.RemoteAddr().String() == key {
			if !bytes.Equal(m.Data, marker) {
				t.Fatalf("the normal client's message is %q", m.Data)
			}
			return
		}
		if i == 9 {
			t.Fatal("the normal client's message is not among the application's first 10 messages: it waits behind the flood")
		}
	}
}

// Scenario 6. Absurd sizes used to be accepted and to panic later (a
// ReadBufferSize of 1<<50 on the first byte) or at once (a channel buffer
// of 1<<50). The constructors must reject them with ErrInvalidConfig.
func TestFlowConfigDoesNotPanic(t *testing.T) {
	// An address nobody listens on: Dial must fail on the config first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()

	try := func(f func() (io.Closer, error)) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panicked: %v", p)
			}
		}()
		c, err := f()
		if c != nil {
			c.Close()
		}
		return err
	}
	check := func(t *testing.T, what string, err error) {
		t.Helper()
		if !errors.Is(err, ss.ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", what, err)
		}
	}
	for _, tc := range []struct {
		name string
		o    ss.Options
	}{
		{"ReadBufferSize 1<<50", ss.Options{ReadBufferSize: 1 << 50}},
		{"ReadBufferSize 1<<50 framed", ss.Options{ReadBufferSize: 1 << 50, Framing: ss.LengthPrefixed(0)}},
		// 1<<50, not 1<<40: on the old core make(chan, 1<<40) tried to map
		// 56 TiB and killed the test binary (not a panic); 1<<50 panics.
		{"MessageBuffer 1<<50", ss.Options{MessageBuffer: 1 << 50}},
		{"EventBuffer 1<<50", ss.Options{EventBuffer: 1 << 50}},
		{"MaxQueuedBytes 1<<62", ss.Options{MaxQueuedBytes: 1 << 62}},
		{"MaxPendingBytes 1<<62", ss.Options{MaxPendingBytes: 1 << 62}},
		{"MaxPendingBytes negative", ss.Options{MaxPendingBytes: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check(t, "NewServer", try(func() (io.Closer, error) {
				s, err := ss.NewServer(ss.ServerConfig{Addr: "127.0.0.1:0", Options: tc.o})
				if s == nil {
					return nil, err
				}
				return s, err
			}))
			check(t, "NewClient", try(func() (io.Closer, error) {
				c, err := ss.NewClient(ss.ClientConfig{Addr: dead, Options: tc.o})
				if c == nil {
					return nil, err
				}
				return c, err
			}))
			check(t, "Dial", try(func() (io.Closer, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				c, err := ss.Dial(ctx, ss.ClientConfig{Addr: dead, Options: tc.o})
				if c == nil {
					return nil, err
				}
				return c, err
			}))
		})
	}
	// Negative durations where a negative value means nothing.
	for _, tc := range []struct {
		name string
		r    ss.ReconnectPolicy
	}{
		{"Reconnect.MinDelay negative", ss.ReconnectPolicy{Enabled: true, MinDelay: -time.Second}},
		{"Reconnect.MaxDelay negative", ss.ReconnectPolicy{Enabled: true, MaxDelay: -time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check(t, "NewClient", try(func() (io.Closer, error) {
				c, err := ss.NewClient(ss.ClientConfig{Addr: dead, Reconnect: tc.r})
				if c == nil {
					return nil, err
				}
				return c, err
			}))
		})
	}
}

// Scenario 7. Client.Close used to flush the send queue first, bounded only
// by WriteTimeout: with a server that does not read and WriteTimeout -1 it
// never returned. Close is immediate; Shutdown(ctx) flushes within ctx.
func TestFlowClientCloseIsBounded(t *testing.T) {
	// setup: a server that accepts and never reads, and a client whose
	// queue is full (a goroutine keeps sending 32 MiB). rescue closes the
	// server's side, which ends the client's writes if nothing else does.
	setup := func(t *testing.T) (cli *ss.Client, rescue func()) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		g := newFlowGroup(t)
		g.closeOnStop(ln)
		accepted := make(chan net.Conn, 1)
		g.Go(func(context.Context) {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			g.closeOnStop(c)
			accepted <- c
		})
		cli, err = ss.NewClient(ss.ClientConfig{Addr: ln.Addr().String(), Options: ss.Options{WriteTimeout: -1}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), flowWait)
		defer cancel()
		if err := cli.Connect(ctx); err != nil {
			cli.Close()
			t.Fatal(err)
		}
		var peer net.Conn
		select {
		case peer = <-accepted:
		case <-time.After(flowWait):
			cli.Close()
			t.Fatal("not accepted")
		}
		rescue = func() { peer.Close() }
		// Registered after the group: runs before it (the sender needs the
		// client closed), and rescues a Close that would hang.
		t.Cleanup(func() {
			done := make(chan struct{})
			go func() { cli.Close(); close(done) }()
			select {
			case <-done:
			case <-time.After(2 * time.Second):
				rescue()
				<-done
			}
		})
		sending := make(chan struct{})
		g.Go(func(context.Context) {
			defer close(sending)
			chunk := make([]byte, 1<<20)
			for range 32 {
				if cli.Send(chunk) != nil {
					return
				}
			}
		})
		// Full: the sender is still at it (so it waits in Send) and the
		// socket took nothing for 200ms.
		var lastOut uint64
		same := 0
		full := func() bool {
			select {
			case <-sending:
				return true
			default:
			}
			out := cli.Stats().BytesOut
			if out > 0 && out == lastOut {
				same++
			} else {
				same = 0
			}
			lastOut = out
			return same >= 2
		}
		if !pollUntilEvery(flowWait, 100*time.Millisecond, full) {
			t.Log("the client's queue never filled; going on")
		}
		return cli, rescue
	}

	// bounded runs f and waits up to 2s for it; if it has not returned by
	// then, it rescues it, waits for it and fails.
	bounded := func(t *testing.T, what string, rescue func(), f func() error) error {
		t.Helper()
		res := make(chan error, 1)
		start := time.Now()
		go func() { res <- f() }()
		select {
		case err := <-res:
			return err
		case <-time.After(2 * time.Second):
		}
		rescue()
		select {
		case err := <-res:
			t.Fatalf("%s with a full queue to a server that does not read (WriteTimeout -1) took more than 2s; returned %v after %v, once the server's side was closed",
				what, err, time.Since(start).Round(time.Millisecond))
		case <-time.After(flowWait):
			t.Fatalf("%s did not return, even after the server's side was closed", what)
		}
		return nil
	}

	t.Run("Close", func(t *testing.T) {
		cli, rescue := setup(t)
		if err := bounded(t, "Close", rescue, cli.Close); err != nil {
			t.Fatalf("Close: %v", err)
		}
	})
	t.Run("Shutdown", func(t *testing.T) {
		cli, rescue := setup(t)
		err := bounded(t, "Shutdown(300ms)", rescue, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			return cli.Shutdown(ctx)
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown with a queue the server never reads: %v, want the context's error", err)
		}
	})
}

// Scenario 9. Peers that flood large frames and never read must not hurt
// the peers that ping: with the zero-value config (LengthPrefixed for the
// 1 MiB frames) and the README's echo loop, the pingers' round trips stay
// fast, the heap stays small, and every flooder is cut off.
func TestFlowFloodersDoNotHurtPingers(t *testing.T) {
	// The scenario: 10 flooders of 1 MiB frames, 20 pingers. Under
	// the race detector every copy costs time in proportion to its size
	// (1 MiB Sends took 30-90 ms each, which is the detector's, not the
	// package's), so there it floods with fewer peers and 256 KiB frames;
	// `make test` also runs this test without -race, at full size.
	nFlood, nPing, frameSize := 10, 20, 1<<20
	if flowRace {
		nFlood, nPing, frameSize = 5, 10, 256<<10
	}
	const (
		phase     = 3 * time.Second
		p99Limit  = 100 * time.Millisecond
		heapLimit = 256 << 20
	)
	opts := ss.Options{Framing: ss.LengthPrefixed(0)}
	srv, addr := flowServe(t, ss.ServerConfig{Options: opts})
	discs := flowEcho(t, srv)
	pingers := make([]*ss.Client, nPing)
	for i := range pingers {
		pingers[i] = flowDial(t, addr, opts)
	}
	g := newFlowGroup(t)

	frame := len32Frame(bytes.Repeat([]byte("F"), frameSize))
	floods := make([]net.Conn, nFlood)
	for i := range floods {
		floods[i] = g.dial(addr)
		flooder(g, floods[i], frame, 64, new(atomic.Int64), 0, nil)
	}

	end := time.Now().Add(phase)
	var heapPeak atomic.Uint64
	g.Go(func(ctx context.Context) {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for time.Now().Before(end) {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > heapPeak.Load() {
				heapPeak.Store(ms.HeapInuse)
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
	})
	var (
		mu    sync.Mutex
		lat   []time.Duration
		fails []string
		wg    sync.WaitGroup
	)
	for i, cli := range pingers {
		wg.Add(1)
		g.Go(func(context.Context) {
			defer wg.Done()
			var mine []time.Duration
			for n := 0; time.Now().Before(end); n++ {
				d, err := roundTrip(cli, fmt.Appendf(nil, "%02d %08d %s", i, n, strings.Repeat("p", 52)), time.Second)
				if err == nil && d > time.Second {
					err = fmt.Errorf("took %v", d)
				}
				if err != nil {
					mu.Lock()
					fails = append(fails, fmt.Sprintf("pinger %d, round trip %d: %v", i, n, err))
					mu.Unlock()
					break
				}
				mine = append(mine, d)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()

	if len(fails) > 0 {
		t.Fatalf("%d of %d pingers failed while %d peers flooded; first: %s", len(fails), nPing, nFlood, fails[0])
	}
	if len(lat) < nPing {
		t.Fatalf("only %d round trips in %v", len(lat), phase)
	}
	slices.Sort(lat)
	p99 := lat[(len(lat)-1)*99/100]
	t.Logf("%d round trips, p50 %v, p99 %v, max %v; heap peak %d MiB", len(lat), lat[len(lat)/2], p99, lat[len(lat)-1], heapPeak.Load()>>20)
	if p99 >= p99Limit {
		t.Errorf("p99 round trip %v while %d peers flooded (limit %v)", p99, nFlood, p99Limit)
	}
	if h := heapPeak.Load(); h >= heapLimit {
		t.Errorf("HeapInuse reached %d MiB while %d peers flooded (limit %d MiB)", h>>20, nFlood, heapLimit>>20)
	}
	deadline := time.Now().Add(flowWait)
	for i, c := range floods {
		reason, ok := discs.wait(c.LocalAddr().String(), time.Until(deadline))
		switch {
		case !ok:
			t.Errorf("flooder %d was not disconnected", i)
		case !errors.Is(reason, ss.ErrSlowConsumer) && !errors.Is(reason, ss.ErrWriteTimeout):
			t.Errorf("flooder %d ended with %v, want ErrSlowConsumer or ErrWriteTimeout", i, reason)
		}
	}
}
