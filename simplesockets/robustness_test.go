package simplesockets_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/simplesockets/simplesockets-go/internal/selfsigned"
	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// fillUntil sends chunks on c until Send fails or n sends succeeded.
func fillUntil(c *ss.Conn, chunk []byte, n int) (int, error) {
	for i := range n {
		if err := c.Send(chunk); err != nil {
			return i, err
		}
	}
	return n, nil
}

func TestSendPolicies(t *testing.T) {
	chunk := bytes.Repeat([]byte("p"), 256<<10)
	t.Run("disconnect", func(t *testing.T) {
		srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{MaxQueuedBytes: 1 << 20, SendPolicy: ss.SendQueueDisconnect}})
		dialRaw(t, addr)
		c := recv(t, srv.Connects(), "connect")
		_, err := fillUntil(c, chunk, 10000)
		if !errors.Is(err, ss.ErrSlowConsumer) {
			t.Fatalf("Send: %v", err)
		}
		d := recv(t, srv.Disconnects(), "disconnect")
		if !errors.Is(d.Err, ss.ErrSlowConsumer) {
			t.Fatalf("reason %v", d.Err)
		}
		if n := srv.Stats().SlowConsumers; n != 1 {
			t.Fatalf("Stats.SlowConsumers = %d, want 1", n)
		}
	})
	t.Run("block", func(t *testing.T) {
		srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{MaxQueuedBytes: 1 << 20, SendPolicy: ss.SendQueueBlock}})
		nc := dialRaw(t, addr)
		c := recv(t, srv.Connects(), "connect")
		const total = 64
		sent := make(chan error, 1)
		go func() {
			_, err := fillUntil(c, chunk, total) // 16 MiB: must block on the 1 MiB queue
			sent <- err
		}()
		select {
		case err := <-sent:
			t.Fatalf("16 MiB queued on a 1 MiB queue without blocking (err %v)", err)
		case <-time.After(300 * time.Millisecond): // a negative check needs a window
		}
		n, _ := io.CopyN(io.Discard, nc, total*int64(len(chunk)))
		if err := recv(t, sent, "sends"); err != nil || n != total*int64(len(chunk)) {
			t.Fatalf("Send: %v; read %d", err, n)
		}
	})
}

func TestTimeouts(t *testing.T) {
	tests := []struct {
		name string
		opts ss.Options
		peer func(nc net.Conn)
		srv  func(c *ss.Conn)
		want error
	}{
		{"idle", ss.Options{IdleTimeout: 100 * time.Millisecond}, func(net.Conn) {}, nil, ss.ErrReadTimeout},
		{"read", ss.Options{Framing: ss.LengthPrefixed(0), ReadTimeout: 100 * time.Millisecond},
			func(nc net.Conn) { nc.Write([]byte{0, 0, 0, 10, 'a'}) }, nil, ss.ErrReadTimeout},
		{"write", ss.Options{WriteTimeout: 200 * time.Millisecond, MaxQueuedBytes: -1}, func(net.Conn) {},
			func(c *ss.Conn) { c.Send(bytes.Repeat([]byte("w"), 32<<20)) }, ss.ErrWriteTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, addr := startServer(t, ss.ServerConfig{Options: tt.opts})
			nc := dialRaw(t, addr)
			c := recv(t, srv.Connects(), "connect")
			tt.peer(nc)
			if tt.srv != nil {
				tt.srv(c)
			}
			d := recv(t, srv.Disconnects(), "disconnect")
			if !errors.Is(d.Err, tt.want) || !errors.Is(d.Err, os.ErrDeadlineExceeded) {
				t.Fatalf("reason %v, want %v", d.Err, tt.want)
			}
			if n := len(srv.Errors()); n != 0 {
				t.Fatalf("%d errors on Errors: a failure is reported once, on Disconnects", n)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	pair, err := selfsigned.New("test")
	if err != nil {
		t.Fatal(err)
	}
	clientCert, err := pair.Leaf("client")
	if err != nil {
		t.Fatal(err)
	}
	mtls := pair.ServerConfig()
	mtls.ClientAuth = tls.RequireAndVerifyClientCert
	mtls.ClientCAs = pair.Pool
	withCert := pair.ClientConfig()
	withCert.Certificates = []tls.Certificate{clientCert}

	tests := []struct {
		name   string
		server *tls.Config
		client *tls.Config
		ok     bool
	}{
		{"tls", pair.ServerConfig(), pair.ClientConfig(), true},
		{"untrusted server", pair.ServerConfig(), &tls.Config{}, false},
		{"mtls with cert", mtls, withCert, true},
		{"mtls without cert", mtls, pair.ClientConfig(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := ss.Options{Framing: ss.Lines(0), TLSConfig: tt.server, HandshakeTimeout: 5 * time.Second}
			srv, addr := startServer(t, ss.ServerConfig{Options: opts})
			go func() {
				for m := range srv.Messages() {
					m.Conn.Send(m.Data)
				}
			}()
			conns, errs := srv.Connects(), srv.Errors()
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			cli, err := ss.Dial(ctx, ss.ClientConfig{Addr: addr, Options: ss.Options{Framing: ss.Lines(0), TLSConfig: tt.client}})
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				defer cli.Close()
				c := recv(t, conns, "connect")
				if st, ok := c.TLSConnectionState(); !ok || !st.HandshakeComplete {
					t.Fatal("server conn has no TLS state")
				}
				cli.Send([]byte("secret"))
				if m := recv(t, cli.Messages(), "echo"); string(m.Data) != "secret" {
					t.Fatalf("echo %q", m.Data)
				}
				return
			}
			if err == nil {
				// TLS 1.3: the client may finish before the server rejects
				// its (missing) certificate; the connection then dies.
				recv(t, cli.Disconnects(), "client disconnect")
				cli.Close()
			} else if !errors.Is(err, ss.ErrTLSHandshake) {
				t.Fatalf("Dial: %v, want ErrTLSHandshake", err)
			}
			e := recv(t, errs, "server error")
			if !errors.Is(e, ss.ErrTLSHandshake) {
				t.Fatalf("server error %v", e)
			}
			select {
			case c := <-conns:
				t.Fatalf("rejected client reached Connects: %v", c)
			default:
			}
			if st := srv.Stats(); st.RejectedTLS != 1 || st.Accepted != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// Garbage instead of a TLS ClientHello, and silence, end in ErrTLSHandshake.
func TestTLSGarbageAndSilence(t *testing.T) {
	pair, err := selfsigned.New("test")
	if err != nil {
		t.Fatal(err)
	}
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{TLSConfig: pair.ServerConfig(), HandshakeTimeout: 200 * time.Millisecond}})
	errs := srv.Errors()
	garbage := dialRaw(t, addr)
	garbage.Write(bytes.Repeat([]byte{0x16, 0xff}, 100))
	dialRaw(t, addr) // silent
	for range 2 {
		if e := recv(t, errs, "error"); !errors.Is(e, ss.ErrTLSHandshake) {
			t.Fatalf("error %v", e)
		}
	}
	if n := srv.Stats().RejectedTLS; n != 2 {
		t.Fatalf("RejectedTLS = %d", n)
	}
}

func TestMaxConnectionsPerIP(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{MaxConnectionsPerIP: 2})
	conns, errs := srv.Connects(), srv.Errors()
	a := dialRaw(t, addr)
	dialRaw(t, addr)
	recv(t, conns, "connect 1")
	recv(t, conns, "connect 2")
	third := dialRaw(t, addr)
	if e := recv(t, errs, "error"); !errors.Is(e, ss.ErrRefused) {
		t.Fatalf("error %v", e)
	}
	third.SetReadDeadline(time.Now().Add(wait))
	if _, err := third.Read(make([]byte, 1)); err == nil {
		t.Fatal("third connection not closed")
	}
	a.Close()
	recv(t, srv.Disconnects(), "disconnect 1")
	dialRaw(t, addr)
	recv(t, conns, "connect after one left")
	if n := srv.Stats().RejectedPerIP; n != 1 {
		t.Fatalf("RejectedPerIP = %d", n)
	}
}

func TestClientAutoReconnect(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{})
	cli, err := ss.Dial(context.Background(), ss.ClientConfig{Addr: addr,
		Reconnect: ss.ReconnectPolicy{Enabled: true, MinDelay: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	cconns := cli.Connects()
	first := recv(t, cconns, "client connect")
	c := recv(t, srv.Connects(), "server connect")
	c.Close() // the server kicks the client
	d := recv(t, cli.Disconnects(), "client disconnect")
	if d.Conn != first {
		t.Fatal("wrong disconnect")
	}
	second := recv(t, cconns, "client reconnect")
	if second == first || cli.Stats().Reconnects != 1 {
		t.Fatal("no reconnect")
	}
}

func TestClientAutoReconnectGivesUp(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{})
	cli, err := ss.Dial(context.Background(), ss.ClientConfig{Addr: addr,
		Reconnect: ss.ReconnectPolicy{Enabled: true, MinDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond, MaxAttempts: 3}})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	errs := cli.Errors()
	recv(t, srv.Connects(), "server connect")
	srv.Close() // nobody listens any more: every attempt is refused
	for i := 1; i <= 3; i++ {
		e := recv(t, errs, "reconnect error")
		var re *ss.ReconnectError
		if !errors.As(e, &re) {
			// the end of the first connection is reported too
			i--
			continue
		}
		if re.Attempt != i || re.GaveUp != (i == 3) {
			t.Fatalf("attempt %d: %+v", i, re)
		}
	}
}

// Close stops automatic reconnection in the middle of its backoff.
func TestClientCloseStopsReconnect(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{})
	cli, err := ss.Dial(context.Background(), ss.ClientConfig{Addr: addr,
		Reconnect: ss.ReconnectPolicy{Enabled: true, MinDelay: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	recv(t, srv.Connects(), "server connect")
	srv.Close()
	recv(t, cli.Disconnects(), "client disconnect")
	done := make(chan error, 1)
	go func() { done <- cli.Close() }()
	recv(t, done, "Close during backoff")
}
