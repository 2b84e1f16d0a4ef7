package compat_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
	"github.com/simplesockets/simplesockets-go/simplesockets/compat"
)

// newClient sets up a compat Client for addr; the test's cleanup closes it.
func newClient(t testing.TB, addr string, cfg compat.ClientSetup) *compat.Client {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg.TargetIP = host
	cfg.TargetPort, _ = strconv.Atoi(port)
	c := compat.NewClient()
	if err := c.Setup(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxWait(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// echoServer is a compat Server that sends back what it receives.
func echoServer(t testing.TB) (*compat.Server, string) {
	t.Helper()
	var srv *compat.Server
	srv, addr := startServer(t, 0, compat.ServerSetup{
		HandleClient: func(conn *ss.Conn, _ string, data []byte) { srv.SendData(data, conn) },
	})
	return srv, addr
}

// The manual's echo client, and the client's state along its life.
func TestClientEchoLifecycle(t *testing.T) {
	srv, addr := echoServer(t)
	connects := make(chan string, 4)
	disconnects := make(chan string, 4)
	received := make(chan string, 16)
	cli := newClient(t, addr, compat.ClientSetup{
		OnConnect:    func() { connects <- "connect" },
		OnDisconnect: func() { disconnects <- "disconnect" },
		OnReceive:    func(d []byte) { received <- string(d) },
	})
	if cli.Address() != addr {
		t.Fatalf("Address = %q, want %q", cli.Address(), addr)
	}
	if cli.Connected() || cli.IsConnected() || cli.Disconnected() {
		t.Fatal("state before Connect")
	}
	if err := cli.SendData([]byte("x")); !errors.Is(err, ss.ErrNotConnected) {
		t.Fatalf("SendData before Connect: %v", err)
	}
	cli.ReturnExceptions(true, true)

	if err := cli.Connect(ctxWait(t)); err != nil {
		t.Fatal(err)
	}
	recvOr(t, connects, "OnConnect")
	if !cli.Connected() || !cli.IsConnected() || cli.Disconnected() {
		t.Fatal("state after Connect")
	}
	if on := cli.AutoRecv(); !on || !cli.AutoRecving() {
		t.Fatal("AutoRecv did not turn on")
	}
	if err := cli.SendData([]byte("Test")); err != nil {
		t.Fatal(err)
	}
	got := ""
	for len(got) < 4 {
		recvOr(t, received, "OnReceive")
		for _, d := range cli.ReturnRecvedData() {
			if d.Address != addr || d.Conn == nil || d.Time.IsZero() {
				t.Fatalf("item %+v", d)
			}
			got += string(d.Data)
		}
	}
	if got != "Test" || cli.NewData() {
		t.Fatalf("got %q, NewData %v", got, cli.NewData())
	}

	// Reconnect: a new connection, the old one ended.
	if err := cli.Reconnect(ctxWait(t)); err != nil {
		t.Fatal(err)
	}
	recvOr(t, disconnects, "OnDisconnect after Reconnect")
	recvOr(t, connects, "OnConnect after Reconnect")
	if !cli.IsConnected() || cli.Disconnected() {
		t.Fatal("state after Reconnect")
	}

	// Disconnect: flushes and closes without waiting.
	cli.SendData([]byte("bye"))
	if err := cli.Disconnect(); err != nil {
		t.Fatal(err)
	}
	recvOr(t, disconnects, "OnDisconnect after Disconnect")
	if cli.IsConnected() || !cli.Disconnected() || !cli.Connected() {
		t.Fatal("state after Disconnect")
	}

	// Shutdown: waits, and turns AutoRecv off.
	if err := cli.Connect(ctxWait(t)); err != nil {
		t.Fatal(err)
	}
	recvOr(t, connects, "OnConnect")
	cli.AutoRecv() // off: the echo stays in the core's buffer
	before := cli.Core().Stats().BytesIn
	cli.SendData([]byte("abc"))
	eventually(t, "echo read by the core", func() bool { return cli.Core().Stats().BytesIn >= before+3 })
	if cli.NewData() {
		t.Fatal("data collected with AutoRecv off")
	}
	if err := cli.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if cli.IsConnected() || cli.AutoRecving() {
		t.Fatal("state after Shutdown")
	}
	recvOr(t, disconnects, "OnDisconnect after Shutdown") // ran before Shutdown returned
	if d := cli.ReturnRecvedData(); len(d) != 1 || string(d[0].Data) != "abc" {
		t.Fatalf("data read before Shutdown: %v", d)
	}
	if cli.ExceptionOccurred() {
		t.Fatalf("exceptions: %v", cli.ReturnExceptions(false, false))
	}
	_ = srv
	cli.Close()
	if err := cli.Connect(ctxWait(t)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Connect after Close: %v", err)
	}
}

func TestClientConnectFailureRecorded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody listens there now
	cli := newClient(t, addr, compat.ClientSetup{})
	if err := cli.Connect(ctxWait(t)); err == nil {
		t.Fatal("Connect to a closed port succeeded")
	}
	if !cli.ExceptionOccurred() || len(cli.ReturnExceptions(true, true)) != 1 {
		t.Fatal("connect failure not recorded")
	}
}

// A server's clean close (FIN) and reset (RST) both give the client's hook,
// event and state.
func TestClientPeerDisconnect(t *testing.T) {
	tests := []struct {
		name   string
		linger bool
		reason error
	}{
		{"FIN", false, io.EOF},
		{"RST", true, ss.ErrConnReset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			gone := make(chan string, 1)
			cli := newClient(t, ln.Addr().String(), compat.ClientSetup{OnDisconnect: func() { gone <- "gone" }})
			if err := cli.Connect(ctxWait(t)); err != nil {
				t.Fatal(err)
			}
			cli.AutoRecv()
			peer, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			awaitKind(t, cli, compat.EventConnect)
			if tt.linger {
				peer.(*net.TCPConn).SetLinger(0)
			}
			peer.Close()
			ev := awaitKind(t, cli, compat.EventDisconnect)
			if !errors.Is(ev.Err, tt.reason) || ev.Address != cli.Address() {
				t.Fatalf("disconnect %s: %v, want %v", ev.Address, ev.Err, tt.reason)
			}
			recvOr(t, gone, "OnDisconnect")
			if cli.IsConnected() || !cli.Disconnected() {
				t.Fatalf("IsConnected %v, Disconnected %v", cli.IsConnected(), cli.Disconnected())
			}
		})
	}
}

// With AutoRecv off the client does not read: the server's writes back up
// (its send queue grows). Turning it on delivers every byte, in order.
func TestClientAutoRecvBackpressure(t *testing.T) {
	srv, addr := startServer(t, 0, compat.ServerSetup{})
	cli := newClient(t, addr, compat.ClientSetup{})
	if err := cli.Connect(ctxWait(t)); err != nil {
		t.Fatal(err)
	}
	sconn := awaitKind(t, srv, compat.EventConnect).Conn

	const total = 32 << 20
	stream := pattern(7, total)
	sent := make(chan error, 1)
	go func() {
		for off := 0; off < total; off += 64 << 10 {
			if err := srv.SendData(stream[off:off+64<<10], sconn); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	// The socket buffers fill up, then the server's queue: the server
	// feels the client not reading.
	eventually(t, "server writes stall", func() bool {
		before := srv.Core().Stats().BytesOut
		time.Sleep(50 * time.Millisecond)
		after := srv.Core().Stats().BytesOut
		return after == before && after < uint64(total)
	})
	if cli.NewData() {
		t.Fatal("data collected with AutoRecv off")
	}
	if in := cli.Core().Stats().BytesIn; in >= total/2 {
		t.Fatalf("client read %d bytes with AutoRecv off", in)
	}

	if !cli.AutoRecv() {
		t.Fatal("AutoRecv did not turn on")
	}
	var got []byte
	deadline := time.Now().Add(wait)
	for len(got) < total {
		ev, err := cli.AwaitEvent(time.Until(deadline))
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
		if ev.Kind == compat.EventData {
			got = append(got, ev.Data...)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, stream) {
		t.Fatal("stream differs")
	}
}

func TestClientSetupDefaults(t *testing.T) {
	cli := compat.NewClient()
	defer cli.Close()
	if err := cli.Connect(ctxWait(t)); !errors.Is(err, compat.ErrNotSetUp) {
		t.Fatalf("Connect before Setup: %v", err)
	}
	if err := cli.Setup(compat.ClientSetup{RecvBuffer: -1}); !errors.Is(err, ss.ErrInvalidConfig) {
		t.Fatalf("negative RecvBuffer: %v", err)
	}
	if err := cli.Setup(compat.ClientSetup{}); err != nil {
		t.Fatal(err)
	}
	if cli.Address() != "127.0.0.1:25567" {
		t.Fatalf("default Address %q", cli.Address())
	}
	if err := cli.Setup(compat.ClientSetup{}); !errors.Is(err, compat.ErrSetUp) {
		t.Fatalf("second Setup: %v", err)
	}
}

// Reconnect with AutoRecv off still lets the old connection end: the data
// it had read is collected.
func TestClientReconnectAutoRecvOff(t *testing.T) {
	srv, addr := startServer(t, 0, compat.ServerSetup{})
	cli := newClient(t, addr, compat.ClientSetup{RecvBuffer: 8})
	if err := cli.Connect(ctxWait(t)); err != nil {
		t.Fatal(err)
	}
	sconn := awaitKind(t, srv, compat.EventConnect).Conn
	// More reads than the core buffers: the old reader blocks delivering.
	payload := pattern(3, 8*64)
	srv.SendData(payload, sconn)
	eventually(t, "core buffer full", func() bool { return cli.Core().Stats().BytesIn >= 8*4 })
	start := time.Now()
	if err := cli.Reconnect(ctxWait(t)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > wait/2 {
		// This used to wait for ctx: the old reader was stuck delivering.
		t.Fatalf("Reconnect took %v", d)
	}
	var got []byte
	for _, d := range cli.ReturnRecvedData() {
		got = append(got, d.Data...)
	}
	if len(got) == 0 || !bytes.Equal(got, payload[:len(got)]) {
		t.Fatalf("collected %d bytes", len(got))
	}
	if cli.AutoRecving() || !cli.IsConnected() {
		t.Fatal("state after Reconnect")
	}
}
