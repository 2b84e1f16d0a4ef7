package simplesockets_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// MaxConnections: at the cap the server stops accepting (extra clients wait
// in the backlog, unserved), and accepting resumes when one leaves.
func TestMaxConnectionsPausesAndResumes(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{MaxConnections: 2, Options: ss.Options{Framing: ss.Lines(0)}})
	go func() {
		for m := range srv.Messages() {
			m.Conn.Send(m.Data)
		}
	}()
	conns := srv.Connects()
	a, b := dialRaw(t, addr), dialRaw(t, addr)
	recv(t, conns, "connect a")
	recv(t, conns, "connect b")
	c := dialRaw(t, addr) // completes in the kernel backlog, not accepted
	c.Write([]byte("third\n"))
	select {
	case x := <-conns:
		t.Fatalf("third connection accepted at the cap: %v", x)
	case <-time.After(200 * time.Millisecond): // a negative check needs a window
	}
	a.Close()
	recv(t, srv.Disconnects(), "disconnect a")
	recv(t, conns, "connect c")
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 6)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "third\n" {
		t.Fatalf("echo on the resumed connection: %q %v", buf, err)
	}
	_ = b
}

// Shutdown writes what is queued before closing.
func TestShutdownFlushesQueuedSends(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.LengthPrefixed(0)}})
	nc := dialRaw(t, addr)
	c := recv(t, srv.Connects(), "connect")
	got := make(chan int64, 1)
	go func() {
		n, _ := io.Copy(io.Discard, nc)
		got <- n
	}()
	payload := bytes.Repeat([]byte("z"), 1<<20)
	for range 8 {
		if err := c.Send(payload); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n := <-got; n != 8*(4+1<<20) {
		t.Fatalf("peer got %d bytes, want %d", n, 8*(4+1<<20))
	}
}

// Shutdown never waits for a peer longer than its context allows.
// This used to be the classic hang: a peer that never reads.
func TestShutdownTimesOutOnPeerThatDoesNotRead(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{MaxQueuedBytes: -1}})
	dialRaw(t, addr) // never reads
	c := recv(t, srv.Connects(), "connect")
	big := bytes.Repeat([]byte("q"), 32<<20)
	if err := c.Send(big); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := srv.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Shutdown took %v", d)
	}
	d := recv(t, srv.Disconnects(), "disconnect")
	if !errors.Is(d.Err, ss.ErrServerClosed) {
		t.Fatalf("reason %v", d.Err)
	}
}

// Close twice, Shutdown after Close, Send after Close: no panic, clear errors.
func TestCloseIsIdempotent(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{})
	cli, err := ss.Dial(context.Background(), ss.ClientConfig{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	c := recv(t, srv.Connects(), "connect")
	for range 2 {
		if err := cli.Close(); err != nil {
			t.Fatal(err)
		}
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := cli.Send([]byte("x")); !errors.Is(err, ss.ErrClosed) {
		t.Fatalf("client Send after Close: %v", err)
	}
	if err := c.Send([]byte("x")); !errors.Is(err, ss.ErrClosed) {
		t.Fatalf("conn Send after Close: %v", err)
	}
	if err := cli.Connect(context.Background()); !errors.Is(err, ss.ErrClosed) {
		t.Fatalf("Connect after Close: %v", err)
	}
	if err := srv.Serve(context.Background()); !errors.Is(err, ss.ErrServerClosed) {
		t.Fatalf("Serve after Close: %v", err)
	}
}

func TestClientStateAndReconnect(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.Lines(0)}})
	go func() {
		for m := range srv.Messages() {
			m.Conn.Send(m.Data)
		}
	}()
	cli, err := ss.NewClient(ss.ClientConfig{Addr: addr, Options: ss.Options{Framing: ss.Lines(0)}})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if cli.Conn() != nil {
		t.Fatal("a Conn before Connect")
	}
	if err := cli.Send([]byte("x")); !errors.Is(err, ss.ErrNotConnected) {
		t.Fatalf("Send before Connect: %v", err)
	}
	if err := cli.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := cli.Connect(context.Background()); !errors.Is(err, ss.ErrAlreadyStarted) {
		t.Fatalf("second Connect: %v", err)
	}
	first := recv(t, cli.Connects(), "client connect")
	if cli.Conn() != first || first.RemoteAddr().String() != addr {
		t.Fatal("state after Connect")
	}
	if err := cli.Reconnect(context.Background()); err != nil {
		t.Fatal(err)
	}
	d := recv(t, cli.Disconnects(), "client disconnect")
	if d.Conn != first || !errors.Is(d.Err, ss.ErrClosed) {
		t.Fatalf("disconnect %v %v", d.Conn, d.Err)
	}
	second := recv(t, cli.Connects(), "client reconnect")
	if second == first || cli.Conn() != second || first.Context().Err() == nil || second.Context().Err() != nil {
		t.Fatal("state after Reconnect")
	}
	cli.Send([]byte("again"))
	if m := recv(t, cli.Messages(), "echo"); string(m.Data) != "again" || m.Conn != second {
		t.Fatalf("echo %q on %v", m.Data, m.Conn)
	}
	if st := cli.Stats(); st.Reconnects != 1 || st.Accepted != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// The server going away is a Disconnect on the client, and Send then fails
// with ErrClosed.
func TestClientSeesServerClose(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{})
	cli, err := ss.Dial(context.Background(), ss.ClientConfig{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	recv(t, srv.Connects(), "connect")
	srv.Close()
	d := recv(t, cli.Disconnects(), "client disconnect")
	if !errors.Is(d.Err, io.EOF) && !errors.Is(d.Err, ss.ErrConnReset) {
		t.Fatalf("reason %v", d.Err)
	}
	if cli.Conn().Context().Err() == nil {
		t.Fatal("connection context not done after the server closed")
	}
	if err := cli.Send([]byte("x")); !errors.Is(err, ss.ErrClosed) {
		t.Fatalf("Send: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	bad := []ss.ServerConfig{
		{Network: "udp"},
		{MaxConnections: -1},
		{Backlog: -1},
		{Options: ss.Options{ReadBufferSize: -1}},
		{Options: ss.Options{SendPolicy: 42}},
	}
	for _, cfg := range bad {
		if _, err := ss.NewServer(cfg); !errors.Is(err, ss.ErrInvalidConfig) {
			t.Errorf("NewServer(%+v) = %v, want ErrInvalidConfig", cfg, err)
		}
	}
	srv, err := ss.NewServer(ss.ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
}

func TestSendErrors(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.Lines(10)}})
	dialRaw(t, addr)
	c := recv(t, srv.Connects(), "connect")
	if err := c.Send([]byte("a\nb")); !errors.Is(err, ss.ErrInvalidMessage) {
		t.Fatalf("delimiter in payload: %v", err)
	}
	if err := c.Send(bytes.Repeat([]byte("a"), 11)); !errors.Is(err, ss.ErrMessageTooLarge) {
		t.Fatalf("oversize payload: %v", err)
	}
	if err := c.Send([]byte("fine")); err != nil {
		t.Fatal(err)
	}
	if n := srv.Stats().SendErrors; n != 2 {
		t.Fatalf("SendErrors = %d", n)
	}
}

func TestServeOwnListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ss.NewServer(ss.ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	nc := dialRaw(t, ln.Addr().String())
	nc.Write([]byte("hi"))
	if m := recv(t, srv.Messages(), "message"); string(m.Data) != "hi" {
		t.Fatalf("got %q", m.Data)
	}
	if srv.Addr().String() != ln.Addr().String() {
		t.Fatal("Addr")
	}
	cancel()
	if err := <-served; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// Unix-socket peers all have the same (empty) remote address; they used to
// collapse into one entry of Clients, so Broadcast reached only one of them.
func TestUnixSocketClients(t *testing.T) {
	srv, path := startServer(t, ss.ServerConfig{Network: "unix", Addr: t.TempDir() + "/s.sock", Options: ss.Options{Framing: ss.Lines(0)}})
	var clis []*ss.Client
	for range 3 {
		cli, err := ss.Dial(context.Background(), ss.ClientConfig{Network: "unix", Addr: path, Options: ss.Options{Framing: ss.Lines(0)}})
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		clis = append(clis, cli)
		recv(t, srv.Connects(), "connect")
	}
	if n := len(srv.Conns()); n != 3 {
		t.Fatalf("Conns() has %d entries, want 3", n)
	}
	for _, c := range srv.Conns() {
		if err := c.Send([]byte("all")); err != nil {
			t.Fatal(err)
		}
	}
	for _, cli := range clis {
		if m := recv(t, cli.Messages(), "broadcast"); string(m.Data) != "all" {
			t.Fatalf("got %q", m.Data)
		}
	}
	srv.Conns()[0].Close()
	recv(t, srv.Disconnects(), "disconnect")
}

// A stale socket file from a dead server is removed; a live one is an error.
func TestUnixSocketStaleFile(t *testing.T) {
	path := t.TempDir() + "/s.sock"
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // leaves the file behind, like a crashed process
	srv, err := ss.NewServer(ss.ServerConfig{Network: "unix", Addr: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatalf("stale socket file not removed: %v", err)
	}
	second, _ := ss.NewServer(ss.ServerConfig{Network: "unix", Addr: path})
	if err := second.Listen(); err == nil {
		t.Fatal("second server took over a live socket")
	}
	second.Close()
	srv.Close()
}

// Cancelling Serve's context stops gracefully: what is queued reaches the
// peer, and the error matches ErrServerClosed (and the context's cause).
// (It used to be a hard stop: a client got 2,759,680 of 3,145,728 queued
// bytes, and Serve returned the bare cause.)
func TestCancelIsGraceful(t *testing.T) {
	srv, cancel, served := serveCtx(t, ss.ServerConfig{})
	connects := srv.Connects()
	nc := dialRaw(t, srv.Addr().String())
	c := recv(t, connects, "connect")
	const total = 3 << 20
	chunk := bytes.Repeat([]byte("z"), 64<<10)
	for sent := 0; sent < total; sent += len(chunk) {
		if err := c.Send(chunk); err != nil {
			t.Fatal(err)
		}
	}
	cancel() // as SIGTERM with signal.NotifyContext
	nc.SetReadDeadline(time.Now().Add(wait))
	n, err := io.Copy(io.Discard, nc)
	if n != total {
		t.Fatalf("the peer got %d of %d queued bytes (%v)", n, total, err)
	}
	select {
	case err := <-served:
		if !errors.Is(err, ss.ErrServerClosed) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Serve: %v, want ErrServerClosed and context.Canceled", err)
		}
	case <-time.After(wait):
		t.Fatal("Serve did not return")
	}
	// A second Serve says the server is closed, not started.
	if err := srv.Serve(context.Background()); !errors.Is(err, ss.ErrServerClosed) {
		t.Fatalf("Serve after the end: %v, want ErrServerClosed", err)
	}
}

// Shutdown's phases for a rolling restart: accepting stops; during
// DrainNotice the connections run on (an echo still comes back, and a
// client that leaves by itself ends with its own reason); then the rest
// are drained one after another over DrainSpread.
func TestShutdownPhases(t *testing.T) {
	const notice, spread = 300 * time.Millisecond, 600 * time.Millisecond
	srv, addr := startServer(t, ss.ServerConfig{DrainNotice: notice, DrainSpread: spread, Options: ss.Options{Framing: ss.Lines(0)}})
	connects, discs := srv.Connects(), srv.Disconnects()
	var peers []net.Conn
	mine := map[*ss.Conn]bool{}
	for range 4 {
		peers = append(peers, dialRaw(t, addr))
		mine[recv(t, connects, "connect")] = true
	}
	next := func(what string) ss.Disconnect { // the next Disconnect of one of the 4 (not of a probe)
		for {
			if d := recv(t, discs, what); mine[d.Conn] {
				return d
			}
		}
	}
	go func() {
		for m := range srv.Messages() {
			m.Conn.Send(m.Data)
		}
	}()
	shut := make(chan error, 1)
	start := time.Now()
	go func() { shut <- srv.Shutdown(context.Background()) }()
	if el := time.Since(start); el < notice {
		peers[0].SetDeadline(time.Now().Add(wait))
		peers[0].Write([]byte("still here\n"))
		buf := make([]byte, 11)
		if _, err := io.ReadFull(peers[0], buf); err != nil || string(buf) != "still here\n" {
			t.Fatalf("echo during the notice: %q %v", buf, err)
		}
	}
	peers[3].Close() // leaves by itself during the notice
	d := next("disconnect of the leaver")
	if !errors.Is(d.Err, io.EOF) {
		t.Fatalf("the leaver's reason %v, want io.EOF", d.Err)
	}
	var ends []time.Duration
	for range 3 {
		d := next("drained disconnect")
		if !errors.Is(d.Err, ss.ErrServerClosed) {
			t.Fatalf("reason %v", d.Err)
		}
		ends = append(ends, time.Since(start))
	}
	if err := recv(t, shut, "Shutdown"); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("still accepting after Shutdown")
	}
	// Lower bounds only (a loaded machine only makes phases longer).
	if ends[0] < notice {
		t.Errorf("first connection drained %v after Shutdown, before the %v notice ended", ends[0], notice)
	}
	if gap := ends[2] - ends[0]; gap < spread/2 {
		t.Errorf("drains spread over %v, want about %v (3 of the 4 connections: 2/4 of it at least)", gap, spread)
	}
}

// DrainSpread paces the drains of connections still there: once every
// connection has left (here the last one leaves while the spread waits to
// drain it), Shutdown returns without sleeping out the rest of the spread.
func TestDrainSpreadEndsWhenAllHaveLeft(t *testing.T) {
	const spread = time.Minute
	srv, addr := startServer(t, ss.ServerConfig{DrainSpread: spread})
	connects, discs := srv.Connects(), srv.Disconnects()
	peers := map[string]net.Conn{}
	for range 2 {
		nc := dialRaw(t, addr)
		defer nc.Close()
		peers[nc.LocalAddr().String()] = nc
	}
	recv(t, connects, "connect")
	recv(t, connects, "connect")
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	d := recv(t, discs, "first drain")
	if !errors.Is(d.Err, ss.ErrServerClosed) {
		t.Fatalf("first Disconnect's reason %v, want a drain", d.Err)
	}
	delete(peers, d.Conn.RemoteAddr().String())
	if len(peers) != 1 {
		t.Fatalf("drained %v, not one of the two clients", d.Conn)
	}
	for _, nc := range peers {
		nc.Close() // the other leaves while the spread waits spread/2 before draining it
	}
	if d := recv(t, discs, "the leaver"); !errors.Is(d.Err, io.EOF) {
		t.Fatalf("the leaver's reason %v, want io.EOF", d.Err)
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		t.Fatalf("Shutdown still sleeping out a %v spread after every connection left", spread)
	}
}
