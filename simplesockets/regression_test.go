package simplesockets_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/simplesockets/simplesockets-go/internal/selfsigned"
	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// A connection whose peer once lagged (so a writer goroutine set a write
// deadline) used to be killed with ErrWriteTimeout on its first Send after
// being idle longer than WriteTimeout: the flusher's write saw the stale
// deadline.
func TestIdleAfterSlowPeerKeepsConnection(t *testing.T) {
	// Long enough that this test reading 32 MiB under -race on a busy
	// machine never stalls the server's writer for a whole WriteTimeout
	// (at 200ms it did once, with all packages' tests running at once).
	const wt = 500 * time.Millisecond
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{WriteTimeout: wt, MaxQueuedBytes: -1}})
	conns, discs := srv.Connects(), srv.Disconnects()
	nc := dialRaw(t, addr)
	c := recv(t, conns, "connect")
	big := make([]byte, 32<<20) // more than the socket takes at once: a writer goroutine takes over
	if err := c.Send(big); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(nc, make([]byte, len(big))); err != nil {
		t.Fatal(err)
	}
	recvUntil(t, func() bool { return srv.Stats().BytesOut >= uint64(len(big)) })
	<-time.After(2 * wt) // the scenario: idle for longer than WriteTimeout
	if err := c.Send([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(wait))
	if _, err := io.ReadFull(nc, make([]byte, 5)); err != nil {
		t.Fatalf("no echo after the idle period: %v", err)
	}
	select {
	case d := <-discs:
		t.Fatalf("connection ended: %v", d.Err)
	default:
	}
}

// Server.Close while a reader was blocked delivering used to give the
// Disconnect the reason net.ErrClosed (and a spurious error on Errors)
// instead of ErrServerClosed.
func TestCloseReasonWhileDelivering(t *testing.T) {
	srv, err := ss.NewServer(ss.ServerConfig{Addr: "127.0.0.1:0", Options: ss.Options{MessageBuffer: 1, Framing: ss.Lines(0)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	conns, discs, errs := srv.Connects(), srv.Disconnects(), srv.Errors()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background()) }()
	nc := dialRaw(t, srv.Addr().String())
	recv(t, conns, "connect")
	nc.Write([]byte("a\nb\nc\n"))
	recvUntil(t, func() bool { return srv.Stats().BytesIn == 6 }) // the reader now waits to deliver "b"
	srv.Close()
	<-done
	if d := recv(t, discs, "disconnect"); !errors.Is(d.Err, ss.ErrServerClosed) {
		t.Errorf("Disconnect reason %v, want ErrServerClosed", d.Err)
	}
	for e := range errs {
		t.Errorf("spurious error on Errors: %v", e)
	}
}

// Client.Close used to wait for an automatic reconnection's dial and TLS
// handshake (up to HandshakeTimeout) because the dial held the client's lock.
func TestClientCloseDuringReconnectHandshake(t *testing.T) {
	pair, err := selfsigned.New("test")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	cli, err := ss.NewClient(ss.ClientConfig{Addr: ln.Addr().String(),
		Reconnect: ss.ReconnectPolicy{Enabled: true, MinDelay: time.Millisecond},
		Options:   ss.Options{TLSConfig: pair.ClientConfig(), HandshakeTimeout: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	discs := cli.Disconnects()
	dialed := make(chan error, 1)
	go func() { dialed <- cli.Connect(context.Background()) }()
	first := tls.Server(recv(t, accepted, "first dial"), pair.ServerConfig())
	if err := first.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, dialed, "connect"); err != nil {
		t.Fatal(err)
	}
	first.Close()
	recv(t, discs, "disconnect")
	silent := recv(t, accepted, "redial") // never answers the handshake
	defer silent.Close()
	start := time.Now()
	cli.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Client.Close took %v: it waited for the reconnection's handshake", d)
	}
}
