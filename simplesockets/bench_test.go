package simplesockets_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// The echo benchmarks run the same loader against the package's server (the
// documented select loop) and against a hand-tuned stdlib server (bufio,
// flush when no input is buffered) in the same run, so their ratio is what
// to read. b.N is the number of messages echoed in total.

// stdlibEcho serves len32 echo the hand-tuned way, until ln is closed.
func stdlibEcho(ln net.Listener) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			r, w := bufio.NewReader(c), bufio.NewWriter(c)
			var hdr [4]byte
			var buf []byte
			for {
				if _, err := io.ReadFull(r, hdr[:]); err != nil {
					return
				}
				n := binary.BigEndian.Uint32(hdr[:])
				if cap(buf) < int(n) {
					buf = make([]byte, n)
				}
				if _, err := io.ReadFull(r, buf[:n]); err != nil {
					return
				}
				w.Write(hdr[:])
				w.Write(buf[:n])
				if r.Buffered() == 0 {
					if w.Flush() != nil {
						return
					}
				}
			}
		}()
	}
}

// projectEcho serves len32 echo with the package, as users write it.
func projectEcho(b *testing.B) (addr string, stop func()) {
	srv, err := ss.NewServer(ss.ServerConfig{Addr: "127.0.0.1:0", Options: ss.Options{Framing: ss.LengthPrefixed(0)}})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		go srv.Serve(ctx)
		msgs := srv.Messages()
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					return
				}
				m.Conn.Send(m.Data)
				m.Release()
			case <-ctx.Done():
				for range msgs {
				}
				return
			}
		}
	}()
	return srv.Addr().String(), func() { cancel(); <-done }
}

func baselineEcho(b *testing.B) (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { stdlibEcho(ln); close(done) }()
	return ln.Addr().String(), func() { ln.Close(); <-done }
}

// load runs conns connections, each echoing its share of b.N messages of
// size bytes with at most window in flight.
func load(b *testing.B, addr string, conns, window, size int) {
	per := max(b.N/conns, 1)
	frame := make([]byte, 4+size)
	binary.BigEndian.PutUint32(frame, uint32(size))
	var wg sync.WaitGroup
	ncs := make([]net.Conn, conns)
	for i := range ncs {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		ncs[i] = nc
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	for _, nc := range ncs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			credit := make(chan struct{}, window)
			for range window {
				credit <- struct{}{}
			}
			rdone := make(chan error, 1)
			go func() {
				r := bufio.NewReaderSize(nc, 64<<10)
				buf := make([]byte, len(frame))
				for range per {
					if _, err := io.ReadFull(r, buf); err != nil {
						rdone <- err
						return
					}
					credit <- struct{}{}
				}
				rdone <- nil
			}()
			w := bufio.NewWriterSize(nc, 64<<10)
			for range per {
				<-credit
				w.Write(frame)
				if len(credit) == 0 {
					w.Flush()
				}
			}
			w.Flush()
			if err := <-rdone; err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	for _, nc := range ncs {
		nc.Close()
	}
	b.ReportMetric(float64(per*conns)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkEcho(b *testing.B) {
	shapes := []struct {
		name                 string
		conns, window, bytes int
	}{
		{"S1-pingpong-64B", 1, 1, 64},
		{"S2-50conns-w32-64B", 50, 32, 64},
		{"S4-4conns-w4-64KiB", 4, 4, 64 << 10},
	}
	servers := []struct {
		name  string
		start func(*testing.B) (string, func())
	}{
		{"stdlib", baselineEcho},
		{"simplesockets", projectEcho},
	}
	for _, sh := range shapes {
		for _, sv := range servers {
			b.Run(fmt.Sprintf("%s/%s", sh.name, sv.name), func(b *testing.B) {
				addr, stop := sv.start(b)
				defer stop()
				load(b, addr, sh.conns, sh.window, sh.bytes)
			})
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	framings := []struct {
		name string
		f    ss.Framing
	}{
		{"len32", ss.LengthPrefixed(0)},
		{"lines", ss.Lines(0)},
	}
	payload := make([]byte, 64)
	for i := range payload {
		payload[i] = 'a'
	}
	for _, fr := range framings {
		var stream []byte
		for range 64 {
			stream, _ = fr.f.AppendFrame(stream, payload)
		}
		b.Run(fr.name, func(b *testing.B) {
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			for b.Loop() {
				for rest := stream; len(rest) > 0; {
					adv, _, err := fr.f.Split(rest)
					if err != nil || adv == 0 {
						b.Fatal("split failed")
					}
					rest = rest[adv:]
				}
			}
		})
		b.Run(fr.name+"-encode", func(b *testing.B) {
			dst := make([]byte, 0, 4096)
			b.ReportAllocs()
			for b.Loop() {
				dst, _ = fr.f.AppendFrame(dst[:0], payload)
			}
		})
	}
}
