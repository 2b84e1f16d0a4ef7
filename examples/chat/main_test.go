package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const wait = 10 * time.Second

// lockedBuffer is the chat's log: written by the loop and by the shutdown
// goroutine, read by the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// peer is a chat client as nc would be: lines in, lines out.
type peer struct {
	t    *testing.T
	nc   net.Conn
	r    *bufio.Reader
	name string // the chat's name for it until /nick: its address
}

func dial(t *testing.T, addr string) *peer {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &peer{t: t, nc: nc, r: bufio.NewReader(nc), name: nc.LocalAddr().String()}
}

func (p *peer) say(line string) {
	p.t.Helper()
	p.nc.SetWriteDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(p.nc, line+"\n"); err != nil {
		p.t.Fatalf("%s: write: %v", p.name, err)
	}
}

func (p *peer) expect(want string) {
	p.t.Helper()
	p.nc.SetReadDeadline(time.Now().Add(wait))
	line, err := p.r.ReadString('\n')
	if err != nil {
		p.t.Fatalf("%s: waiting for %q: %v (got %q)", p.name, want, err, line)
	}
	if got := strings.TrimSuffix(line, "\n"); got != want {
		p.t.Fatalf("%s: got %q, want %q", p.name, got, want)
	}
}

// expectClosed waits for the server to close the connection: EOF, or a
// reset if the server closed it with unread input.
func (p *peer) expectClosed() {
	p.t.Helper()
	p.nc.SetReadDeadline(time.Now().Add(wait))
	line, err := p.r.ReadString('\n')
	if err == nil || (!errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET)) {
		p.t.Fatalf("%s: read %q, %v; want the connection closed", p.name, line, err)
	}
}

// join connects a peer and reads its welcome and its join announcement;
// others must each see the announcement.
func join(t *testing.T, addr string, others ...*peer) *peer {
	t.Helper()
	p := dial(t, addr)
	p.expect("welcome, " + p.name + "! /nick NAME to rename, /quit to leave")
	p.expect("* " + p.name + " joined")
	for _, o := range others {
		o.expect("* " + p.name + " joined")
	}
	return p
}

func startChat(t *testing.T, maxLine int) (addr string, log *lockedBuffer, stop func()) {
	t.Helper()
	srv, err := listen("127.0.0.1:0", maxLine)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	log = &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, srv, log) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve: %v", err)
				}
			case <-time.After(wait):
				t.Errorf("serve did not return within %v of the shutdown", wait)
			}
		})
	}
	t.Cleanup(stop)
	return srv.Addr().String(), log, stop
}

func TestChat(t *testing.T) {
	addr, log, stop := startChat(t, 64)

	a := join(t, addr)
	a.say("/nick alice")
	a.expect("* " + a.name + " is now alice")
	a.name = "alice"

	b := join(t, addr, a)
	b.say("/nick alice")
	b.expect("the name alice is taken")
	b.say("/nick two words")
	b.expect("a name is 1 to 32 printable characters without spaces")
	b.say("/dance")
	b.expect("unknown command; try /nick NAME or /quit")
	b.say("/nick bob")
	for _, p := range []*peer{a, b} {
		p.expect("* " + b.name + " is now bob")
	}
	b.name = "bob"

	b.say("hi all\r") // as telnet sends it
	b.say("")         // ignored
	for _, p := range []*peer{a, b} {
		p.expect("<bob> hi all")
	}
	// (Lines of different clients are in no set order: wait before the next.)
	a.say("hello bob")
	for _, p := range []*peer{a, b} {
		p.expect("<alice> hello bob")
	}

	a.say("/quit")
	a.expect("bye")
	a.expectClosed()
	b.expect("* alice left")

	// A line over the limit ends that connection only.
	c := join(t, addr, b)
	c.say(strings.Repeat("x", 100))
	b.expect("* " + c.name + " left")
	c.expectClosed()

	b.say("still here")
	b.expect("<bob> still here")

	stop() // as SIGINT does: graceful shutdown
	b.expectClosed()
	if out := log.String(); !strings.Contains(out, "message too large") || !strings.Contains(out, "chat: shutting down") {
		t.Errorf("log lacks the oversize line's error or the shutdown:\n%s", out)
	}
}

func TestRunStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as if SIGINT arrived at once
	var log lockedBuffer
	if err := run(ctx, "127.0.0.1:0", 16, &log); err != nil {
		t.Fatal(err)
	}
	if out := log.String(); !strings.HasPrefix(out, "chat: listening on 127.0.0.1:") {
		t.Errorf("log: %q", out)
	}
}

func TestListenRejectsBadMaxLine(t *testing.T) {
	if _, err := listen("127.0.0.1:0", 0); err == nil {
		t.Fatal("listen with -max-line 0 succeeded")
	}
}

// Readers that keep reading keep every line of a long paste, and only a
// client that stops reading is dropped. (This used to disconnect readers:
// with a 64 KiB queue and SendQueueDisconnect, two of three reading clients
// were dropped when one pasted 200 lines of 1 KB.)
func TestPasteKeepsReadersDropsNonReader(t *testing.T) {
	addr, log, _ := startChat(t, 2048)
	var readers []*peer
	for range 3 {
		readers = append(readers, join(t, addr, readers...))
	}
	paster := join(t, addr, readers...)
	all := append(readers[:len(readers):len(readers)], paster)
	idle := join(t, addr, all...) // reads its welcome, then nothing more

	// Enough that the idle client's socket buffers and its 64 KiB queue
	// fill up: several MiB.
	const lines = 5000
	body := strings.Repeat("x", 1000)
	done := make(chan error, len(all))
	for _, p := range all {
		go func() {
			want := "<" + paster.name + "> " + body
			p.nc.SetReadDeadline(time.Now().Add(4 * wait))
			for got := 0; got < lines; {
				line, err := p.r.ReadString('\n')
				if err != nil {
					done <- fmt.Errorf("%s after %d of %d lines: %v", p.name, got, lines, err)
					return
				}
				if strings.TrimSuffix(line, "\n") == want {
					got++
				}
			}
			done <- nil
		}()
	}
	go func() {
		paster.nc.SetWriteDeadline(time.Now().Add(4 * wait))
		for range lines {
			if _, err := io.WriteString(paster.nc, body+"\n"); err != nil {
				done <- fmt.Errorf("paste: %v", err)
				return
			}
		}
	}()
	for range all {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	idle.expectClosedAfterLines()
	if out := log.String(); !strings.Contains(out, "slow consumer") {
		t.Errorf("the log does not say why the idle client was dropped:\n%s", out)
	}
}

// expectClosedAfterLines reads whatever was queued for p until the server
// closes the connection.
func (p *peer) expectClosedAfterLines() {
	p.t.Helper()
	p.nc.SetReadDeadline(time.Now().Add(wait))
	if _, err := io.Copy(io.Discard, p.r); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		p.t.Fatalf("%s: %v; want the connection closed", p.name, err)
	}
}
