package simplesockets_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/simplesockets/simplesockets-go/internal/proxyproto"
	"github.com/simplesockets/simplesockets-go/internal/selfsigned"
	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

// dialFrom connects to addr from the local address ip (127.0.0.0/8).
func dialFrom(t *testing.T, ip, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: wait}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func tcpAddr(s string) *net.TCPAddr {
	a, _ := net.ResolveTCPAddr("tcp", s)
	return a
}

// A trusted balancer's v1 or v2 header names the client: RemoteAddr is the
// client's, ProxyAddr the balancer's, and the bytes after the header are
// the connection's first message.
func TestProxyHeaderFromTrustedSource(t *testing.T) {
	client, front := tcpAddr("203.0.113.7:40000"), tcpAddr("198.51.100.1:443")
	for _, tt := range []struct {
		name   string
		header []byte
	}{
		{"v1", proxyproto.AppendV1(nil, client, front)},
		{"v2", proxyproto.AppendV2(nil, &proxyproto.Header{Version: 2, Source: client, Dest: front,
			TLVs: []proxyproto.TLV{{Type: 0xE0, Value: []byte("custom")}}})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, addr := startServer(t, ss.ServerConfig{ProxyTrusted: loopback, Options: ss.Options{Framing: ss.Lines(0)}})
			nc := dialRaw(t, addr)
			nc.Write(append(tt.header, "hello\n"...))
			c := recv(t, srv.Connects(), "connect")
			if c.RemoteAddr().String() != client.String() || c.ProxyAddr().String() != nc.LocalAddr().String() {
				t.Fatalf("RemoteAddr %v ProxyAddr %v, want %v via %v", c.RemoteAddr(), c.ProxyAddr(), client, nc.LocalAddr())
			}
			if m := recv(t, srv.Messages(), "message"); string(m.Data) != "hello" {
				t.Fatalf("first message %q", m.Data)
			}
		})
	}
}

// Refusals: a header from an untrusted source (a forged address), a trusted
// source without a header, a malformed header. None reaches Connects; each
// is on Errors and counted. A LOCAL header (a health check) is closed
// quietly.
func TestProxyRefusals(t *testing.T) {
	client, front := tcpAddr("203.0.113.7:40000"), tcpAddr("198.51.100.1:443")
	srv, addr := startServer(t, ss.ServerConfig{ProxyTrusted: loopback, ProxyHeaderTimeout: 500 * time.Millisecond})
	connects, errs := srv.Connects(), srv.Errors()
	for _, tt := range []struct {
		name string
		from string
		send []byte
	}{
		{"forged by an untrusted source", "127.0.0.2", proxyproto.AppendV1(nil, client, front)},
		{"no header from a trusted source", "127.0.0.1", []byte("GET / HTTP/1.0\r\n\r\n")},
		{"malformed v1", "127.0.0.1", []byte("PROXY TCP4 1.2.3.4 nonsense\r\n")},
	} {
		nc := dialFrom(t, tt.from, addr)
		nc.Write(tt.send)
		err := recv(t, errs, tt.name)
		if !errors.Is(err, ss.ErrRefused) || !strings.Contains(err.Error(), "PROXY") {
			t.Fatalf("%s: %v, want ErrRefused about PROXY", tt.name, err)
		}
		nc.SetReadDeadline(time.Now().Add(wait))
		if _, err := nc.Read(make([]byte, 1)); err == nil {
			t.Fatalf("%s: connection not closed", tt.name)
		}
	}
	// A LOCAL health check: closed, no Connect, no error.
	hc := dialRaw(t, addr)
	hc.Write(proxyproto.AppendV2(nil, &proxyproto.Header{Version: 2, Local: true}))
	hc.SetReadDeadline(time.Now().Add(wait))
	if _, err := hc.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("health check: %v, want closed", err)
	}
	// A direct client from an untrusted source without a header is served.
	direct := dialFrom(t, "127.0.0.3", addr)
	direct.Write([]byte("hi"))
	if c := recv(t, connects, "direct client"); !strings.HasPrefix(c.RemoteAddr().String(), "127.0.0.3:") || c.ProxyAddr() != nil {
		t.Fatalf("direct client %v via %v", c.RemoteAddr(), c.ProxyAddr())
	}
	select {
	case c := <-connects:
		t.Fatalf("a refused connection reached Connects: %v", c)
	case err := <-errs:
		t.Fatalf("extra error: %v", err)
	default:
	}
	if st := srv.Stats(); st.RejectedProxy != 3 {
		t.Fatalf("RejectedProxy = %d, want 3", st.RejectedProxy)
	}
}

// MaxConnectionsPerIP holds per real client address behind the balancer.
func TestProxyPerIPCapUsesClientAddress(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{ProxyTrusted: loopback, MaxConnectionsPerIP: 2})
	connects, errs := srv.Connects(), srv.Errors()
	front := tcpAddr("198.51.100.1:443")
	for i, ip := range []string{"203.0.113.1", "203.0.113.1", "203.0.113.2", "203.0.113.2", "203.0.113.3"} {
		nc := dialRaw(t, addr)
		nc.Write(proxyproto.AppendV1(nil, &net.TCPAddr{IP: net.ParseIP(ip), Port: 1000 + i}, front))
		recv(t, connects, "connect "+ip)
	}
	nc := dialRaw(t, addr) // a third from .1: over its cap
	nc.Write(proxyproto.AppendV1(nil, &net.TCPAddr{IP: net.ParseIP("203.0.113.1"), Port: 2000}, front))
	if err := recv(t, errs, "refusal"); !errors.Is(err, ss.ErrRefused) || !strings.Contains(err.Error(), "203.0.113.1") {
		t.Fatalf("third from one client: %v", err)
	}
	if st := srv.Stats(); st.RejectedPerIP != 1 || st.Open != 5 {
		t.Fatalf("stats %+v", st)
	}
}

// TLS works on top: the PROXY header first, then the handshake.
func TestProxyThenTLS(t *testing.T) {
	pair, err := selfsigned.New("test")
	if err != nil {
		t.Fatal(err)
	}
	srv, addr := startServer(t, ss.ServerConfig{ProxyTrusted: loopback, Options: ss.Options{TLSConfig: pair.ServerConfig(), Framing: ss.Lines(0)}})
	nc := dialRaw(t, addr)
	nc.Write(proxyproto.AppendV1(nil, tcpAddr("203.0.113.9:5555"), tcpAddr("198.51.100.1:443")))
	cc := pair.ClientConfig()
	cc.ServerName = "127.0.0.1"
	tc := tls.Client(nc, cc)
	tc.SetDeadline(time.Now().Add(wait))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	tc.Write([]byte("secret\n"))
	c := recv(t, srv.Connects(), "connect")
	if c.RemoteAddr().String() != "203.0.113.9:5555" {
		t.Fatalf("RemoteAddr %v", c.RemoteAddr())
	}
	if _, ok := c.TLSConnectionState(); !ok {
		t.Fatal("not TLS")
	}
	if m := recv(t, srv.Messages(), "message"); string(m.Data) != "secret" {
		t.Fatalf("message %q", m.Data)
	}
}

// A connection still waiting for its PROXY header when the server stops is
// not refused: the stop's past read deadline woke the header's read (and
// the header read cleared it), which used to count and report a missing
// header from the trusted balancer.
func TestProxyWaitEndsQuietlyAtShutdown(t *testing.T) {
	srv, cancel, served := serveCtx(t, ss.ServerConfig{ProxyTrusted: loopback, ProxyHeaderTimeout: time.Minute, ShutdownTimeout: time.Second})
	errs := srv.Errors()
	nc := dialRaw(t, srv.Addr().String()) // a trusted source that has not sent its header yet
	defer nc.Close()
	cancel()
	if err := recv(t, served, "Serve"); !errors.Is(err, ss.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	for err := range errs {
		t.Errorf("on Errors: %v", err)
	}
	if st := srv.Stats(); st.RejectedProxy != 0 || st.Accepted != 0 {
		t.Errorf("RejectedProxy %d, Accepted %d: want 0 and 0", st.RejectedProxy, st.Accepted)
	}
}

// A direct (untrusted) client's address is final: the per-IP cap refuses
// its extra connections at once, not after they have waited out the PROXY
// header timeout, so silent connections cannot pile up behind it.
func TestProxyPerIPCapOnDirectClientsAtOnce(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{ProxyTrusted: loopback, ProxyHeaderTimeout: time.Minute, MaxConnectionsPerIP: 2})
	errs := srv.Errors()
	for range 2 {
		dialFrom(t, "127.0.0.2", addr) // silent: each waits for its first bytes
	}
	dialFrom(t, "127.0.0.2", addr)
	if err := recv(t, errs, "refusal"); !errors.Is(err, ss.ErrRefused) || !strings.Contains(err.Error(), "127.0.0.2") {
		t.Fatalf("third silent connection from one client: %v", err)
	}
	if st := srv.Stats(); st.RejectedPerIP != 1 {
		t.Fatalf("RejectedPerIP %d, want 1", st.RejectedPerIP)
	}
}
