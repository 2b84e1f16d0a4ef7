package simplesockets_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// chaosFrame is the payload "c<client>-<seq>-" padded to size.
func chaosFrame(client, seq, size int) []byte {
	p := []byte(fmt.Sprintf("c%d-%d-", client, seq))
	if len(p) < size {
		p = append(p, bytes.Repeat([]byte("."), size-len(p))...)
	}
	return len32(p)
}

func parseChaos(p []byte) (client, seq int, ok bool) {
	f := strings.SplitN(string(p), "-", 3)
	if len(f) < 3 || !strings.HasPrefix(f[0], "c") {
		return 0, 0, false
	}
	c, err1 := strconv.Atoi(f[0][1:])
	s, err2 := strconv.Atoi(f[1])
	return c, s, err1 == nil && err2 == nil
}

// TestChaos: hundreds of connections that finish normally, reset in the
// middle of a frame, half-close, stop reading, or reconnect, while the server
// shuts down. Bounded in count and time. It asserts exactly one Disconnect
// per Connect with a plausible reason, frames in order without gaps on every
// connection, no lost frame on the connections that closed cleanly, and an
// empty server at the end (goleak checks the goroutines).
func TestChaos(t *testing.T) {
	const (
		clients = 300
		frames  = 20
	)
	srv, err := ss.NewServer(ss.ServerConfig{Addr: "127.0.0.1:0", Options: ss.Options{
		Framing:        ss.LengthPrefixed(1 << 16),
		MaxQueuedBytes: 128 << 10,
		SendPolicy:     ss.SendQueueDisconnect,
		WriteTimeout:   time.Second,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr().String()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background()) }()

	// The application: echo everything, record everything.
	type connLog struct {
		client, next int // client id (from the first frame), next expected seq
		gap          string
		connects     int
		disconnects  int
		reason       error
	}
	logs := map[uint64]*connLog{}
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		conns, discs, msgs, errs := srv.Connects(), srv.Disconnects(), srv.Messages(), srv.Errors()
		for conns != nil || discs != nil || msgs != nil || errs != nil {
			select {
			case c, ok := <-conns:
				if !ok {
					conns = nil
					continue
				}
				// A select over several channels may see a connection's
				// messages or even its Disconnect before its Connect.
				l := logs[c.ID()]
				if l == nil {
					l = &connLog{client: -1}
					logs[c.ID()] = l
				}
				l.connects++
			case d, ok := <-discs:
				if !ok {
					discs = nil
					continue
				}
				l := logs[d.Conn.ID()]
				if l == nil {
					l = &connLog{client: -1}
					logs[d.Conn.ID()] = l
				}
				l.disconnects++
				l.reason = d.Err
			case m, ok := <-msgs:
				if !ok {
					msgs = nil
					continue
				}
				l := logs[m.Conn.ID()]
				if l == nil {
					l = &connLog{client: -1}
					logs[m.Conn.ID()] = l
				}
				client, seq, ok := parseChaos(m.Data)
				switch {
				case !ok:
					l.gap = fmt.Sprintf("garbled frame %q", m.Data[:min(len(m.Data), 20)])
				case l.client == -1 && seq == 0:
					l.client, l.next = client, 1
				case client != l.client || seq != l.next:
					if l.gap == "" {
						l.gap = fmt.Sprintf("got c%d-%d, want c%d-%d", client, seq, l.client, l.next)
					}
				default:
					l.next++
				}
				m.Conn.Send(m.Data)
			case _, ok := <-errs:
				if !ok {
					errs = nil
				}
			}
		}
	}()

	var (
		wg         sync.WaitGroup
		finished   atomic.Int64
		shutdownAt = make(chan struct{})
		once       sync.Once
		cleanMu    sync.Mutex
		clean      = map[int]int{} // client id -> frames fully written before a clean close, by half-closers that saw EOF
		counts     [5]atomic.Int64
	)
	sem := make(chan struct{}, 48)
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			defer func() {
				if finished.Add(1) == clients/2 {
					once.Do(func() { close(shutdownAt) })
				}
			}()
			kind := i % 5
			counts[kind].Add(1)
			if kind == 4 { // reconnecting client
				cli, err := ss.Dial(context.Background(), ss.ClientConfig{Addr: addr, Options: ss.Options{Framing: ss.LengthPrefixed(1 << 16)}})
				if err != nil {
					return // the server is gone already
				}
				defer cli.Close()
				for round := range 3 {
					for seq := range 3 {
						cli.Send(chaosFrame(100000+i*10+round, seq, 32)[4:])
					}
					if cli.Reconnect(context.Background()) != nil {
						return
					}
				}
				return
			}
			nc, err := net.DialTimeout("tcp", addr, wait)
			if err != nil {
				return
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(8 * time.Second))
			switch kind {
			case 0: // normal: send, read every echo, close
				var out []byte
				for seq := range frames {
					out = append(out, chaosFrame(i, seq, 64)...)
				}
				nc.Write(out)
				io.ReadFull(nc, make([]byte, len(out)))
			case 1: // reset in the middle of a frame
				var out []byte
				for seq := range frames / 2 {
					out = append(out, chaosFrame(i, seq, 64)...)
				}
				out = append(out, chaosFrame(i, frames/2, 64)[:30]...)
				nc.Write(out)
				nc.(*net.TCPConn).SetLinger(0)
			case 2: // half-close: send, CloseWrite, read until EOF
				var out []byte
				for seq := range frames {
					out = append(out, chaosFrame(i, seq, 64)...)
				}
				if _, err := nc.Write(out); err != nil {
					return
				}
				nc.(*net.TCPConn).CloseWrite()
				if _, err := io.Copy(io.Discard, nc); err == nil {
					cleanMu.Lock()
					clean[i] = frames
					cleanMu.Unlock()
				}
			case 3: // stop reading: 1 MiB of frames whose echoes nobody reads, then close
				for seq := range 64 {
					if _, err := nc.Write(chaosFrame(i, seq, 16<<10)); err != nil {
						return
					}
				}
			}
		}()
	}
	<-shutdownAt
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	shutErr := srv.Shutdown(ctx)
	cancel()
	wg.Wait()
	if err := <-served; !errors.Is(err, ss.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	<-loopDone
	elapsed := time.Since(start)

	allowed := []error{io.EOF, ss.ErrConnReset, ss.ErrServerClosed, ss.ErrSlowConsumer, ss.ErrWriteTimeout}
	reasons := map[string]int{}
	for id, l := range logs {
		if l.connects != 1 || l.disconnects != 1 {
			t.Errorf("conn %d: %d connects, %d disconnects", id, l.connects, l.disconnects)
			continue
		}
		known := false
		for _, a := range allowed {
			if errors.Is(l.reason, a) {
				reasons[a.Error()]++
				known = true
				break
			}
		}
		if !known {
			t.Errorf("conn %d: unexpected reason %v", id, l.reason)
		}
		if l.gap != "" {
			t.Errorf("conn %d (client %d): %s", id, l.client, l.gap)
		}
		if want, ok := clean[l.client]; ok && l.client >= 0 && errors.Is(l.reason, io.EOF) && l.next != want {
			t.Errorf("client %d closed cleanly after %d frames, server got %d", l.client, want, l.next)
		}
	}
	st := srv.Stats()
	if st.Open != 0 || int(st.Accepted) != len(logs) {
		t.Errorf("stats %+v, %d connections logged", st, len(logs))
	}
	t.Logf("%d connections in %v (shutdown: %v); kinds normal/reset/half-close/stop-reading/reconnect = %d/%d/%d/%d/%d; reasons %v; %d frames in, %d discarded; %d half-closers verified complete",
		len(logs), elapsed.Round(time.Millisecond), shutErr, counts[0].Load(), counts[1].Load(), counts[2].Load(), counts[3].Load(), counts[4].Load(),
		reasons, st.MessagesIn, st.MessagesDiscarded, len(clean))
}
