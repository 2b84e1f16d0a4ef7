package compat_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
	"github.com/simplesockets/simplesockets-go/simplesockets/compat"
)

const (
	// bulkTotal is what the peer sends in the memory tests.
	bulkTotal = 64 << 20
	// heapGrowthBound is the most the Go heap may grow while bulkTotal
	// bytes go through a Server or Client that nobody drains: the default
	// MaxRecvedBytes (16 MiB, item bookkeeping included), the core's
	// Messages buffer (at most 1024 reads of 2 KiB) and the read buffers
	// fit well under it; keeping all 64 MiB (issue 11) does not.
	heapGrowthBound = 48 << 20
	// bulkWait bounds the bulk transfers, which are slow under -race.
	bulkWait = 2 * time.Minute
	// stallAfter is how much a receiver in polling style must have read
	// before a write timeout counts as the peer being held back: half the
	// bound, so that a timeout of a merely slow receiver is not taken for it.
	stallAfter = compat.DefaultMaxRecvedBytes / 2
)

// bulkPattern holds the stream's bytes from any offset on: byte i of the
// stream is i % 251.
var bulkPattern = func() []byte {
	b := make([]byte, 64<<10+251)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}()

// bulkChunk returns the stream's bytes from off, at most 64 KiB.
func bulkChunk(off, total int) []byte {
	return bulkPattern[off%251 : off%251+min(64<<10, total-off)]
}

// bulkCheck follows the stream as it arrives and remembers the first
// mismatch. add runs on one goroutine at a time; n and bad may be read from
// any.
type bulkCheck struct {
	n   atomic.Int64
	bad atomic.Int64 // 1 + offset of the first wrong byte, or 0
}

func (b *bulkCheck) add(data []byte) {
	off := b.n.Load()
	for i, v := range data {
		if v != byte((off+int64(i))%251) && b.bad.Load() == 0 {
			b.bad.Store(off + int64(i) + 1)
		}
	}
	b.n.Add(int64(len(data)))
}

func (b *bulkCheck) verify(t *testing.T, total int64) {
	t.Helper()
	if bad := b.bad.Load(); bad != 0 {
		t.Fatalf("stream differs at byte %d", bad-1)
	}
	if n := b.n.Load(); n != total {
		t.Fatalf("got %d bytes, want %d", n, total)
	}
}

// sendBulk writes total bytes of the stream on c from a goroutine and
// reports the end on done. Each write has a short deadline; one that expires
// once the receiver has read (bytesIn) at least atLeast bytes closes
// stalled: the receiver holds the peer back. The goroutine goes on writing
// until everything is sent or c is closed.
func sendBulk(c net.Conn, total int, atLeast uint64, bytesIn func() uint64) (stalled <-chan struct{}, done <-chan error) {
	st := make(chan struct{})
	dn := make(chan error, 1)
	go func() {
		defer c.SetWriteDeadline(time.Time{})
		closed := false
		for off := 0; off < total; {
			c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
			n, err := c.Write(bulkChunk(off, total))
			off += n
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if !closed && bytesIn() >= atLeast {
					closed = true
					close(st)
				}
				continue
			}
			if err != nil {
				dn <- err
				return
			}
		}
		dn <- nil
	}()
	return st, dn
}

// heapInuse returns the heap in use after a collection.
func heapInuse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

func checkGrowth(t *testing.T, before int64) {
	t.Helper()
	growth := heapInuse() - before
	t.Logf("heap growth %.1f MiB", float64(growth)/(1<<20))
	if growth >= heapGrowthBound {
		t.Fatalf("heap grew by %d bytes (%.1f MiB), want < %d MiB", growth, float64(growth)/(1<<20), heapGrowthBound>>20)
	}
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		<-tick.C
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Issue 11: a Server in callback style (OnReceive, no ReturnRecvedData)
// kept every byte it received.
func TestServerCallbackStyleMemoryBounded(t *testing.T) {
	before := heapInuse()
	var got bulkCheck
	var calls atomic.Uint64
	srv, addr := startServer(t, 0, compat.ServerSetup{
		OnReceive: func(_ *ss.Conn, _ string, data []byte) { got.add(data); calls.Add(1) },
	})
	c := dial(t, addr)
	_, done := sendBulk(c, bulkTotal, 0, func() uint64 { return 0 })
	waitFor(t, "OnReceive got everything", bulkWait, func() bool { return got.n.Load() >= bulkTotal })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got.verify(t, bulkTotal)
	checkGrowth(t, before)
	checkNewest(t, srv.ReturnRecvedData(), srv.RecvedDropped(), calls.Load())
}

// checkNewest checks what callback style left in the list: the newest
// items, the stream's tail, within the bound, the older ones counted.
func checkNewest(t *testing.T, items []compat.RecvedData, dropped, calls uint64) {
	t.Helper()
	if dropped == 0 || dropped+uint64(len(items)) != calls {
		t.Fatalf("RecvedDropped %d + %d items kept, want > 0 and %d in all", dropped, len(items), calls)
	}
	var tail []byte
	cost := 0
	for _, d := range items {
		tail = append(tail, d.Data...)
		cost += len(d.Data) + 128
	}
	if cost > compat.DefaultMaxRecvedBytes {
		t.Fatalf("list holds %d bytes with bookkeeping, bound %d", cost, compat.DefaultMaxRecvedBytes)
	}
	if cost < compat.DefaultMaxRecvedBytes/2 {
		t.Fatalf("list holds only %d bytes with bookkeeping", cost)
	}
	var want bulkCheck
	want.n.Store(int64(bulkTotal - len(tail)))
	want.add(tail)
	want.verify(t, bulkTotal)
}

// Issue 11: a Server in polling style that is not drained kept every byte
// it received; now it stops reading (TCP backpressure), and draining
// resumes it without a byte lost.
func TestServerPollingStyleBackpressure(t *testing.T) {
	before := heapInuse()
	srv, addr := startServer(t, 0, compat.ServerSetup{})
	c := dial(t, addr)
	in := func() uint64 { return srv.Core().Stats().BytesIn }
	stalled, done := sendBulk(c, bulkTotal, stallAfter, in)
	// The peer is held back, or (as the old code did) everything arrived.
	waitFor(t, "peer held back", bulkWait, func() bool { return isClosed(stalled) || in() >= bulkTotal })
	checkGrowth(t, before)
	var got bulkCheck
	waitFor(t, "everything returned", bulkWait, func() bool {
		for _, d := range srv.ReturnRecvedData() {
			got.add(d.Data)
		}
		return got.n.Load() >= bulkTotal
	})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got.verify(t, bulkTotal)
	if n := srv.RecvedDropped(); n != 0 {
		t.Fatalf("RecvedDropped = %d in polling style", n)
	}
}

// bulkClient returns a connected Client with AutoRecv on and the peer's
// end of its connection.
func bulkClient(t *testing.T, cfg compat.ClientSetup) (*compat.Client, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cli := newClient(t, ln.Addr().String(), cfg)
	if err := cli.Connect(ctxWait(t)); err != nil {
		t.Fatal(err)
	}
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	if !cli.AutoRecv() {
		t.Fatal("AutoRecv did not turn on")
	}
	return cli, peer
}

// Issue 11, for the Client: callback style with AutoRecv on kept every byte.
func TestClientCallbackStyleMemoryBounded(t *testing.T) {
	before := heapInuse()
	var got bulkCheck
	var calls atomic.Uint64
	cli, peer := bulkClient(t, compat.ClientSetup{OnReceive: func(data []byte) { got.add(data); calls.Add(1) }})
	_, done := sendBulk(peer, bulkTotal, 0, func() uint64 { return 0 })
	waitFor(t, "OnReceive got everything", bulkWait, func() bool { return got.n.Load() >= bulkTotal })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got.verify(t, bulkTotal)
	checkGrowth(t, before)
	checkNewest(t, cli.ReturnRecvedData(), cli.RecvedDropped(), calls.Load())
}

// Issue 11, for the Client: polling style with AutoRecv on, not drained.
func TestClientPollingStyleBackpressure(t *testing.T) {
	before := heapInuse()
	cli, peer := bulkClient(t, compat.ClientSetup{})
	in := func() uint64 { return cli.Core().Stats().BytesIn }
	stalled, done := sendBulk(peer, bulkTotal, stallAfter, in)
	waitFor(t, "peer held back", bulkWait, func() bool { return isClosed(stalled) || in() >= bulkTotal })
	checkGrowth(t, before)
	var got bulkCheck
	waitFor(t, "everything returned", bulkWait, func() bool {
		for _, d := range cli.ReturnRecvedData() {
			got.add(d.Data)
		}
		return got.n.Load() >= bulkTotal
	})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got.verify(t, bulkTotal)
	if n := cli.RecvedDropped(); n != 0 {
		t.Fatalf("RecvedDropped = %d in polling style", n)
	}
}

// In polling style at a small bound, a peer's close waits behind its data:
// every byte comes before the disconnect, nothing is dropped. The peer
// writes everything (the socket buffers take what the bound holds back) and
// closes before anything is taken, so the core reports the end while the
// list is full and its last reads wait in the Messages buffer.
func TestRecvedBoundKeepsDisconnectLast(t *testing.T) {
	const total, bound = 64 << 10, 8 << 10
	run := func(t *testing.T, a awaiter, peer net.Conn) {
		if _, err := peer.Write(bulkChunk(0, total)); err != nil {
			t.Fatal(err)
		}
		peer.Close()
		var got bulkCheck
		deadline := time.Now().Add(wait)
		for {
			ev, err := a.AwaitEvent(time.Until(deadline))
			if err != nil {
				t.Fatalf("after %d bytes: %v", got.n.Load(), err)
			}
			if ev.Kind == compat.EventData {
				got.add(ev.Data)
			}
			if ev.Kind == compat.EventDisconnect {
				break
			}
		}
		got.verify(t, total)
	}
	t.Run("Server", func(t *testing.T) {
		srv, addr := startServer(t, 0, compat.ServerSetup{MaxRecvedBytes: bound})
		c := dial(t, addr)
		awaitKind(t, srv, compat.EventConnect)
		run(t, srv, c)
		if srv.RecvedDropped() != 0 {
			t.Fatal("items dropped")
		}
	})
	t.Run("Client", func(t *testing.T) {
		cli, peer := bulkClient(t, compat.ClientSetup{MaxRecvedBytes: bound})
		awaitKind(t, cli, compat.EventConnect)
		run(t, cli, peer)
		if cli.RecvedDropped() != 0 {
			t.Fatal("items dropped")
		}
	})
}

func TestMaxRecvedBytesNegative(t *testing.T) {
	if err := compat.NewServer(0).Setup(compat.ServerSetup{Port: compat.AnyPort, MaxRecvedBytes: -1}); !errors.Is(err, ss.ErrInvalidConfig) {
		t.Fatalf("Server: %v", err)
	}
	cli := compat.NewClient()
	defer cli.Close()
	if err := cli.Setup(compat.ClientSetup{MaxRecvedBytes: -1}); !errors.Is(err, ss.ErrInvalidConfig) {
		t.Fatalf("Client: %v", err)
	}
}

// The exception list keeps the newest MaxExceptions entries and counts the
// others; AwaitEvent reports only the ones kept.
func TestServerExceptionListBounded(t *testing.T) {
	const extra = 100
	var n atomic.Int64
	srv, addr := startServer(t, 0, compat.ServerSetup{
		RecvBuffer: 1, // one item, so one panic, per byte
		OnReceive: func(*ss.Conn, string, []byte) {
			panic(fmt.Sprintf("panic %d", n.Add(1)))
		},
	})
	c := dial(t, addr)
	if _, err := c.Write(make([]byte, compat.MaxExceptions+extra)); err != nil {
		t.Fatal(err)
	}
	total := uint64(compat.MaxExceptions + extra)
	waitFor(t, "every panic recorded", wait, func() bool {
		return srv.ExceptionsDropped()+uint64(len(srv.ReturnExceptions(false, false))) >= total
	})
	excs := srv.ReturnExceptions(true, true)
	if len(excs) != compat.MaxExceptions || srv.ExceptionsDropped() != extra {
		t.Fatalf("%d exceptions kept, %d dropped; want %d, %d", len(excs), srv.ExceptionsDropped(), compat.MaxExceptions, extra)
	}
	for i, e := range excs { // the oldest went
		want := fmt.Sprintf("panic %d", extra+i+1)
		if !errors.Is(e.Err, compat.ErrHookPanic) || !strings.HasSuffix(e.Error(), want) {
			t.Fatalf("exception %d: %v, want ...%s", i, e, want)
		}
	}
	if srv.ExceptionsDropped() != extra { // ReturnExceptions does not reset it
		t.Fatalf("ExceptionsDropped = %d after ReturnExceptions", srv.ExceptionsDropped())
	}
}

func TestClientExceptionListBounded(t *testing.T) {
	const extra = 7
	cli := newClient(t, "127.0.0.1:1", compat.ClientSetup{})
	for range compat.MaxExceptions + extra {
		if err := cli.SendData([]byte("x")); !errors.Is(err, ss.ErrNotConnected) {
			t.Fatalf("SendData without a connection: %v", err)
		}
	}
	if n := len(cli.ReturnExceptions(false, false)); n != compat.MaxExceptions || cli.ExceptionsDropped() != extra {
		t.Fatalf("%d exceptions kept, %d dropped; want %d, %d", n, cli.ExceptionsDropped(), compat.MaxExceptions, extra)
	}
	// AwaitEvent reports each kept exception once, then nothing.
	for range compat.MaxExceptions {
		if ev := awaitKind(t, cli, compat.EventException); !errors.Is(ev.Err, ss.ErrNotConnected) {
			t.Fatalf("event %v", ev.Err)
		}
	}
	expectQuiet(t, cli, 10*time.Millisecond)
}
