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

// join connects a peer and reads its welcome and its announcement in the
// lobby; others must each see the announcement.
func join(t *testing.T, addr string, others ...*peer) *peer {
	t.Helper()
	p := dial(t, addr)
	p.expect("welcome, " + p.name + "! /nick NAME, /join ROOM, /who, /quit")
	p.expect("* " + p.name + " joined lobby")
	for _, o := range others {
		o.expect("* " + p.name + " joined lobby")
	}
	return p
}

// named is join followed by "/nick nick".
func named(t *testing.T, addr, nick string, others ...*peer) *peer {
	t.Helper()
	p := join(t, addr, others...)
	p.say("/nick " + nick)
	for _, o := range append([]*peer{p}, others...) {
		o.expect("* " + p.name + " is now " + nick)
	}
	p.name = nick
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
	b.expect("names and rooms are 1 to 32 printable characters without spaces")
	b.say("/dance")
	b.expect("unknown command; try /nick NAME, /join ROOM, /who or /quit")
	b.say("/nick bob")
	for _, p := range []*peer{a, b} {
		p.expect("* " + b.name + " is now bob")
	}
	b.name = "bob"

	b.say("hi all\r") // as telnet sends it
	b.say("")         // ignored
	a.expect("<bob> hi all")
	// (Lines of different clients are in no set order: wait before the next.)
	a.say("hello bob")
	b.expect("<alice> hello bob") // not its own line before it
	b.say("/who")
	b.expect("in lobby: alice, bob")

	a.say("/quit")
	a.expect("bye")
	a.expectClosed()
	b.expect("* alice left")

	// A line over the limit ends that connection only.
	c := join(t, addr, b)
	c.say(strings.Repeat("x", 100))
	b.expect("* " + c.name + " left")
	c.expectClosed()

	b.say("/who")
	b.expect("in lobby: bob")

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
	idle := join(t, addr, append(readers[:len(readers):len(readers)], paster)...) // reads its welcome, then nothing more

	// Enough that the idle client's socket buffers and its 64 KiB queue
	// fill up: several MiB.
	const lines = 5000
	body := strings.Repeat("x", 1000)
	done := make(chan error, len(readers)+1)
	for _, p := range readers {
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
	for range readers {
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

// A client that vanishes with a reset (SO_LINGER 0), in the middle of a
// line, is announced as gone to its room, and the chat goes on.
func TestResetLeaves(t *testing.T) {
	addr, log, _ := startChat(t, 64)
	a := named(t, addr, "alice")
	b := named(t, addr, "bob", a)
	c := named(t, addr, "carol", a, b)

	c.nc.SetWriteDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(c.nc, "half a li"); err != nil {
		t.Fatal(err)
	}
	if err := c.nc.(*net.TCPConn).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	c.nc.Close() // sends RST
	for _, p := range []*peer{a, b} {
		p.expect("* carol left")
	}
	a.say("/who")
	a.expect("in lobby: alice, bob")
	a.say("still here")
	b.expect("<alice> still here")
	named(t, addr, "carol", a, b) // the name is free again

	if out := log.String(); !strings.Contains(out, "chat: carol left: ") || !strings.Contains(out, "reset") {
		t.Errorf("the log does not say that carol's connection was reset:\n%s", out)
	}
}

// Chat lines and notices stay in their room.
func TestRoomsIsolate(t *testing.T) {
	addr, _, _ := startChat(t, 64)
	a := named(t, addr, "alice")
	b := named(t, addr, "bob", a)
	c := named(t, addr, "carol", a, b)
	d := named(t, addr, "dave", a, b, c)

	c.say("/join dev")
	c.expect("* carol joined dev")
	for _, p := range []*peer{a, b, d} {
		p.expect("* carol left")
	}
	d.say("/join dev")
	for _, p := range []*peer{c, d} {
		p.expect("* dave joined dev")
	}
	for _, p := range []*peer{a, b} {
		p.expect("* dave left")
	}
	d.say("/join dev")
	d.expect("you are in dev already")
	d.say("/join two words")
	d.expect("names and rooms are 1 to 32 printable characters without spaces")

	a.say("hi lobby")
	b.expect("<alice> hi lobby")
	c.say("hi dev")
	d.expect("<carol> hi dev")
	// A line that crossed rooms, or came back to its sender, would be read
	// before these answers.
	for _, p := range []*peer{a, b} {
		p.say("/who")
		p.expect("in lobby: alice, bob")
	}
	for _, p := range []*peer{c, d} {
		p.say("/who")
		p.expect("in dev: carol, dave")
	}

	c.say("/join lobby")
	d.expect("* carol left")
	for _, p := range []*peer{a, b, c} {
		p.expect("* carol joined lobby")
	}
	c.say("back")
	for _, p := range []*peer{a, b} {
		p.expect("<carol> back")
	}
	d.say("/who")
	d.expect("in dev: dave")
}

// Notices name a client by its current name, and a name is free again once
// its holder renamed or left.
func TestNickRenamesInNotices(t *testing.T) {
	addr, _, _ := startChat(t, 64)
	a := join(t, addr)
	b := join(t, addr, a)
	c := join(t, addr, a, b)
	c.say("/join dev")
	c.expect("* " + c.name + " joined dev")
	for _, p := range []*peer{a, b} {
		p.expect("* " + c.name + " left")
	}

	a.say("/nick alice")
	for _, p := range []*peer{a, b} {
		p.expect("* " + a.name + " is now alice")
	}
	a.say("hi")
	b.expect("<alice> hi")
	a.say("/join dev")
	b.expect("* alice left")
	for _, p := range []*peer{a, c} {
		p.expect("* alice joined dev")
	}
	a.say("/nick al")
	for _, p := range []*peer{a, c} {
		p.expect("* alice is now al")
	}
	c.say("/who")
	c.expect("in dev: " + c.name + ", al")

	b.say("/nick alice") // free since a renamed; b's first line since "* alice left"
	b.expect("* " + b.name + " is now alice")
	a.say("/quit")
	a.expect("bye")
	a.expectClosed()
	c.expect("* al left")
	b.say("/nick al") // free since a left
	b.expect("* alice is now al")
}
