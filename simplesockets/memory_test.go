package simplesockets_test

// The README's worst-case memory formula ("Memory, worst case"), checked
// under a combined attack. Black-box: public API, raw sockets on 127.0.0.1.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// memWait bounds the cleanups' waits for the server and the echo loop, so
// that the test ends within about 15s even if the code under test hangs.
const memWait = 2 * time.Second

// TestMemoryFormulaHolds runs 64 connections at once against a server with
// a small explicit config and the README's echo loop:
//
//   - 16 flooders send 256 KiB frames as fast as they can and never read;
//   - 16 send a frame one byte short (header + 256 KiB - 1) and then nothing;
//   - 16 send only a 4-byte header announcing 256 KiB;
//   - 16 normal clients do echo round trips.
//
// While it runs, HeapInuse is sampled every 50ms; its peak minus the
// baseline (after runtime.GC, before the server starts) must stay within
//
//	N × (R + 4F + 6Q + 32 KiB) + 2T
//
// (the README's formula) for N = 64. The test's own buffers (the one frame all attackers share, the
// normal clients' frames and read buffers) are allocated before the
// baseline. What it allocates afterwards (64 client sockets, their
// goroutines, timers) is small and counted against the server, as are the
// server's fixed channels: the check errs on the strict side. HeapInuse also
// counts garbage not yet collected (the echo loop does not Release), so it
// is stricter than the live heap, which is logged too.
//
// The normal clients must keep working (at least 10 round trips each, none
// over 2s) and every flooder must be cut off (ErrSlowConsumer or
// ErrWriteTimeout).
func TestMemoryFormulaHolds(t *testing.T) {
	const (
		maxPayload = 256 << 10
		maxQueued  = 256 << 10
		maxPending = 256 << 10
		maxTotal   = 2 << 20
		maxConns   = 64
		kinds      = 4
		perKind    = maxConns / kinds
		phase      = 4 * time.Second
		rtLimit    = 2 * time.Second
		minRTs     = 10
		perConnK   = 32 << 10 // the README's per-connection constant
		pingSize   = 64
	)
	framing := ss.LengthPrefixed(maxPayload)
	var (
		R     = 4096
		F     = framing.MaxFrameSize()
		F2    = 1<<bits.Len(uint(F-64-1)) + 64 // F rounded up to 2^k + 64, the read buffer's class
		Q     = max(maxQueued, F)
		T     = max(maxTotal, F)
		N     = maxConns
		conn1 = R + 4*F2 + 6*Q + perConnK
		bound = uint64(N*conn1 + 2*T)
	)
	if F != maxPayload+4 {
		t.Fatalf("LengthPrefixed(%d).MaxFrameSize() = %d, want %d", maxPayload, F, maxPayload+4)
	}

	// The test's own memory, allocated once before the baseline: one full
	// frame that the flooders write and whose prefixes the other attackers
	// write, and each normal client's frame and read buffer.
	frame := len32Frame(bytes.Repeat([]byte("A"), maxPayload))
	partial := frame[:len(frame)-1] // header + 256 KiB - 1
	header := frame[:4]             // announces 256 KiB
	pingFrames := make([][]byte, perKind)
	pingBufs := make([][]byte, perKind)
	for i := range pingFrames {
		pingFrames[i] = len32Frame(bytes.Repeat([]byte{'a' + byte(i)}, pingSize))
		pingBufs[i] = make([]byte, 4+pingSize)
	}
	var floodFrames, floodBytes atomic.Int64
	var pingMu sync.Mutex
	pingFails := make([]string, 0, perKind)
	pingCounts := make([]int, perKind)
	pingMax := make([]time.Duration, perKind)
	liveSample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	// The server, its echo loop and the test's goroutines. Cleanups run in
	// reverse: the group closes the client sockets, then the echo loop and
	// the server are closed and waited for (memWait each).
	srv, addr := serveWait(t, ss.ServerConfig{
		Addr:                 "127.0.0.1:0",
		MaxConnections:       maxConns,
		MaxTotalPendingBytes: maxTotal,
		Options: ss.Options{
			Framing:         framing,
			MaxQueuedBytes:  maxQueued,
			MaxPendingBytes: maxPending,
		},
	}, memWait)
	discs := echoLoop(t, srv, memWait)
	g := newFlowGroup(t)

	// Peak HeapInuse (and, for the report, HeapInuse+StackInuse and the live
	// heap) sampled every 50ms until stopSampling is closed.
	var peakHeap, peakHeapStack, peakLive uint64
	var peakAt, floodersCutAt time.Duration // since the attack started
	var started atomic.Int64                // UnixNano when the attack began; 0 before
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	g.Go(func(ctx context.Context) {
		defer close(sampled)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap {
				peakHeap, peakAt = ms.HeapInuse, sinceStart(&started)
			}
			if floodersCutAt == 0 && srv.Stats().SlowConsumers >= perKind {
				floodersCutAt = sinceStart(&started)
			}
			peakHeapStack = max(peakHeapStack, ms.HeapInuse+ms.StackInuse)
			metrics.Read(liveSample)
			if liveSample[0].Value.Kind() == metrics.KindUint64 {
				peakLive = max(peakLive, liveSample[0].Value.Uint64())
			}
			select {
			case <-tick.C:
			case <-stopSampling:
				return
			case <-ctx.Done():
				return
			}
		}
	})
	stopSampler := sync.OnceFunc(func() {
		close(stopSampling)
		<-sampled
	})
	t.Cleanup(stopSampler) // runs before the group's stop

	// Connect all 64, wait until the server has them all, then start every
	// attacker and client at once.
	conns := make([]net.Conn, maxConns)
	for i := range conns {
		conns[i] = g.dial(addr)
	}
	if !pollUntil(3*time.Second, func() bool { return srv.Stats().Open == maxConns }) {
		t.Fatalf("the server has %d of the %d connections open", srv.Stats().Open, maxConns)
	}
	floods := conns[0*perKind : 1*perKind]
	partials := conns[1*perKind : 2*perKind]
	headers := conns[2*perKind : 3*perKind]
	pingers := conns[3*perKind : 4*perKind]

	start := make(chan struct{})
	t0 := time.Now()
	started.Store(t0.UnixNano())
	end := t0.Add(phase + 100*time.Millisecond)
	// The flooders keep at it after end, until they are cut off or until
	// hardEnd: one that stopped writing with nothing left queued for it
	// would never be a slow consumer.
	hardEnd := end.Add(3 * time.Second)
	var pingWG sync.WaitGroup
	for _, c := range floods {
		g.Go(func(ctx context.Context) {
			<-start
			c.SetWriteDeadline(hardEnd)
			for ctx.Err() == nil {
				n, err := c.Write(frame)
				floodBytes.Add(int64(n))
				if err != nil {
					return // cut off, or the phase is over
				}
				floodFrames.Add(1)
			}
		})
	}
	for _, a := range []struct {
		conns []net.Conn
		data  []byte
	}{{partials, partial}, {headers, header}} {
		data := a.data
		for _, c := range a.conns {
			g.Go(func(ctx context.Context) {
				<-start
				c.SetWriteDeadline(end)
				if _, err := c.Write(data); err != nil {
					return
				}
				<-ctx.Done() // then nothing, until the group closes c
			})
		}
	}
	for i, c := range pingers {
		pingWG.Add(1)
		g.Go(func(ctx context.Context) {
			defer pingWG.Done()
			<-start
			out, in := pingFrames[i], pingBufs[i]
			n := 0
			var worst time.Duration
			fail := ""
			for time.Now().Before(end) && ctx.Err() == nil {
				binary.BigEndian.PutUint32(out[4:], uint32(n)) // a fresh payload each time
				t0 := time.Now()
				c.SetDeadline(t0.Add(rtLimit))
				if _, err := c.Write(out); err != nil {
					fail = fmt.Sprintf("round trip %d: write: %v", n, err)
					break
				}
				if _, err := io.ReadFull(c, in); err != nil {
					fail = fmt.Sprintf("round trip %d: no echo within %v: %v", n, rtLimit, err)
					break
				}
				d := time.Since(t0)
				if !bytes.Equal(in, out) {
					fail = fmt.Sprintf("round trip %d: echo differs", n)
					break
				}
				if d > rtLimit {
					fail = fmt.Sprintf("round trip %d took %v", n, d)
					break
				}
				worst = max(worst, d)
				n++
			}
			pingMu.Lock()
			pingCounts[i], pingMax[i] = n, worst
			if fail != "" {
				pingFails = append(pingFails, fmt.Sprintf("client %d: %s", i, fail))
			}
			pingMu.Unlock()
		})
	}
	close(start)

	// The attack phase: the normal clients run until end.
	pingWG.Wait()
	for time.Now().Before(end) {
		time.Sleep(time.Until(end))
	}

	// Every flooder must be cut off by hardEnd.
	deadline := hardEnd
	var floodErrs []string
	for i, c := range floods {
		reason, ok := discs.wait(c.LocalAddr().String(), time.Until(deadline))
		switch {
		case !ok:
			floodErrs = append(floodErrs, fmt.Sprintf("flooder %d was not disconnected", i))
		case !errors.Is(reason, ss.ErrSlowConsumer) && !errors.Is(reason, ss.ErrWriteTimeout):
			floodErrs = append(floodErrs, fmt.Sprintf("flooder %d ended with %v, want ErrSlowConsumer or ErrWriteTimeout", i, reason))
		}
	}
	stopSampler()
	st := srv.Stats()

	sub := func(a, b uint64) uint64 {
		if a < b {
			return 0
		}
		return a - b
	}
	mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
	heapGrowth := sub(peakHeap, base.HeapInuse)
	stackGrowth := sub(peakHeapStack, base.HeapInuse+base.StackInuse)
	totalRTs, minCount, worst := 0, int(^uint(0)>>1), time.Duration(0)
	for i := range pingCounts {
		totalRTs += pingCounts[i]
		minCount = min(minCount, pingCounts[i])
		worst = max(worst, pingMax[i])
	}
	t.Logf("bound: N=%d × (R + 4F + 6Q + 32 KiB) + T with R=%d F=%d Q=%d T=%d = %d × %d + %d = %d bytes (%.2f MiB)",
		N, R, F2, Q, T, N, conn1, T, bound, mib(bound))
	t.Logf("HeapInuse: baseline %.2f MiB, peak %.2f MiB, peak - baseline %.2f MiB (%.0f%% of the bound)",
		mib(base.HeapInuse), mib(peakHeap), mib(heapGrowth), 100*float64(heapGrowth)/float64(bound))
	t.Logf("for reference: HeapInuse+StackInuse peak - baseline %.2f MiB (the test's own goroutine stacks included); live heap peak (at GC) %.2f MiB",
		mib(stackGrowth), mib(peakLive))
	t.Logf("HeapInuse peaked %v after the attack began; all flooders were cut off (SlowConsumers %d) after %v",
		peakAt.Round(time.Millisecond), perKind, floodersCutAt.Round(time.Millisecond))
	t.Logf("flooders wrote %d frames (%.1f MiB); server: BytesIn %.1f MiB, BytesOut %.1f MiB, SlowConsumers %d, Open %d; normal clients: %d round trips, fewest %d per client, slowest %v",
		floodFrames.Load(), mib(uint64(floodBytes.Load())), mib(st.BytesIn), mib(st.BytesOut), st.SlowConsumers, st.Open, totalRTs, minCount, worst.Round(time.Microsecond))

	if heapGrowth > bound {
		t.Errorf("HeapInuse grew by %d bytes (%.2f MiB) under attack; the README's bound for N=%d is %d bytes (%.2f MiB)",
			heapGrowth, mib(heapGrowth), N, bound, mib(bound))
	}
	for _, f := range pingFails {
		t.Errorf("a normal client failed during the attack: %s", f)
	}
	for i, n := range pingCounts {
		if n < minRTs {
			t.Errorf("normal client %d completed %d round trips in %v (want at least %d)", i, n, phase, minRTs)
		}
	}
	for _, e := range floodErrs {
		t.Error(e)
	}
}

// sinceStart is the time since the UnixNano in started, negative before
// it is set (the connections are being opened), and never 0 (0 means "not
// yet").
func sinceStart(started *atomic.Int64) time.Duration {
	s := started.Load()
	if s == 0 {
		return -1
	}
	return max(time.Duration(time.Now().UnixNano()-s), 1)
}
