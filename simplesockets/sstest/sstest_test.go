package sstest_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
	"github.com/simplesockets/simplesockets-go/simplesockets/sstest"
)

func TestExampleUpper(t *testing.T) { upperTest(t) }

func TestNewPairEcho(t *testing.T) {
	lines := ss.Options{Framing: ss.Lines(0)}
	srv, cli, conn := sstest.NewPair(t, ss.ServerConfig{Options: lines}, ss.ClientConfig{Options: lines})
	if conn.RemoteAddr().String() != cli.Conn().LocalAddr().String() {
		t.Fatalf("server conn %v is not the client's %v", conn.RemoteAddr(), cli.Conn().LocalAddr())
	}
	if !strings.HasPrefix(srv.Addr, "127.0.0.1:") {
		t.Fatalf("Addr %q is not on 127.0.0.1", srv.Addr)
	}
	if err := cli.Send([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	m := sstest.WaitMessage(t, srv)
	if m.Conn != conn || string(m.Data) != "ping" {
		t.Fatalf("server got %q on %v", m.Data, m.Conn)
	}
	if err := conn.Send(m.Data); err != nil {
		t.Fatal(err)
	}
	if got := sstest.WaitMessage(t, cli); string(got.Data) != "ping" {
		t.Fatalf("client got %q", got.Data)
	}
	// The client's own Connects still holds its side of the connection.
	if c := sstest.WaitConnect(t, cli); c != cli.Conn() {
		t.Fatalf("client Connect %v, want %v", c, cli.Conn())
	}
	cli.Close()
	d := sstest.WaitDisconnect(t, srv)
	if d.Conn != conn || !errors.Is(d.Err, io.EOF) {
		t.Fatalf("Disconnect %v: %v", d.Conn, d.Err)
	}
}

func TestDialUsesServerFraming(t *testing.T) {
	srv := sstest.NewServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.LengthPrefixed(64)}})
	cli := srv.Dial(t, ss.ClientConfig{})
	msg := "two\nlines and a \x00"
	if err := cli.Send([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if m := sstest.WaitMessage(t, srv); string(m.Data) != msg {
		t.Fatalf("got %q, want %q", m.Data, msg)
	}
	// The limit is the server's too.
	if err := cli.Send(make([]byte, 65)); !errors.Is(err, ss.ErrMessageTooLarge) {
		t.Fatalf("Send of 65 bytes: %v, want ErrMessageTooLarge", err)
	}
}

func TestWaitError(t *testing.T) {
	srv := sstest.NewServer(t, ss.ServerConfig{MaxConnectionsPerIP: 1})
	srv.Dial(t, ss.ClientConfig{})
	sstest.WaitConnect(t, srv)
	srv.Dial(t, ss.ClientConfig{}) // over the cap: refused after accept
	err := sstest.WaitError(t, srv)
	if !errors.Is(err, ss.ErrRefused) {
		t.Fatalf("error %v, want ErrRefused", err)
	}
}

func TestCloseClosesChannels(t *testing.T) {
	srv := sstest.NewServer(t, ss.ServerConfig{})
	srv.Dial(t, ss.ClientConfig{})
	sstest.WaitConnect(t, srv)
	srv.Close()
	srv.Close() // idempotent
	if _, ok := <-srv.Messages(); ok {
		t.Fatal("Messages delivered a value after Close")
	}
	d := sstest.WaitDisconnect(t, srv) // buffered before the channel was closed
	if !errors.Is(d.Err, ss.ErrServerClosed) {
		t.Fatalf("Disconnect reason %v, want ErrServerClosed", d.Err)
	}
}

func TestCleanupStopsServer(t *testing.T) {
	var srv *sstest.Server
	var cli *ss.Client
	t.Run("sub", func(t *testing.T) {
		srv = sstest.NewServer(t, ss.ServerConfig{})
		cli = srv.Dial(t, ss.ClientConfig{})
	})
	// Both cleanups have run: the channels are closed, without waiting.
	select {
	case _, ok := <-srv.Messages():
		if ok {
			t.Fatal("server Messages delivered a value")
		}
	default:
		t.Fatal("server Messages still open after the subtest ended")
	}
	if err := cli.Send([]byte("x")); !errors.Is(err, ss.ErrClosed) {
		t.Fatalf("client Send after cleanup: %v, want ErrClosed", err)
	}
}

func TestGracefulShutdownBeforeCleanup(t *testing.T) {
	lines := ss.Options{Framing: ss.Lines(0)}
	srv, cli, conn := sstest.NewPair(t, ss.ServerConfig{Options: lines}, ss.ClientConfig{})
	conn.Send([]byte("bye"))
	ctx, cancel := context.WithTimeout(context.Background(), sstest.DefaultTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if m := sstest.WaitMessage(t, cli); string(m.Data) != "bye" {
		t.Fatalf("client got %q", m.Data)
	}
	if d := sstest.WaitDisconnect(t, cli); !errors.Is(d.Err, io.EOF) {
		t.Fatalf("client Disconnect: %v", d.Err)
	}
	// The cleanup then finds Serve returned ErrServerClosed: no test error.
}

// fakeTB records what Fatalf would have reported and ends the goroutine,
// as t.Fatalf does.
type fakeTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// failure runs fn with a fakeTB and returns its Fatalf message ("" if none).
func failure(t *testing.T, fn func(tb testing.TB)) string {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msg
}

func TestNext(t *testing.T) {
	ch := make(chan int, 1)
	ch <- 7
	if got := sstest.Next(t, ch, 0); got != 7 {
		t.Fatalf("Next = %d, want 7", got)
	}

	msg := failure(t, func(tb testing.TB) { sstest.Next(tb, ch, 20*time.Millisecond) })
	if want := "sstest: no value on chan int within 20ms"; msg != want {
		t.Errorf("timeout: %q, want %q", msg, want)
	}

	close(ch)
	msg = failure(t, func(tb testing.TB) { sstest.Next(tb, ch, 0) })
	if want := "sstest: chan int closed while waiting for a value"; msg != want {
		t.Errorf("closed: %q, want %q", msg, want)
	}
}

func TestWaitOnClosedServer(t *testing.T) {
	srv := sstest.NewServer(t, ss.ServerConfig{})
	srv.Close()
	msg := failure(t, func(tb testing.TB) { sstest.WaitMessage(tb, srv) })
	if want := "sstest: Messages closed while waiting for a message"; msg != want {
		t.Errorf("got %q, want %q", msg, want)
	}
	msg = failure(t, func(tb testing.TB) { sstest.WaitConnect(tb, srv) })
	if want := "sstest: Connects closed while waiting for a connection"; msg != want {
		t.Errorf("got %q, want %q", msg, want)
	}
}

func TestPipeListener(t *testing.T) {
	srv, err := ss.NewServer(ss.ServerConfig{Options: ss.Options{Framing: ss.Lines(0)}})
	if err != nil {
		t.Fatal(err)
	}
	ln := sstest.NewPipeListener()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln) }()
	defer func() {
		srv.Close()
		// The test closes the listener itself at the end: Serve may see
		// that first (and return the accept error) or the Close.
		if err := sstest.Next(t, served, 0); !errors.Is(err, ss.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve: %v", err)
		}
	}()
	if a := ln.Addr(); a.String() != "sstest-pipe" || a.Network() != "pipe" {
		t.Errorf("Addr %s/%s", a.Network(), a)
	}

	ctx := context.Background()
	var peers [2]net.Conn
	var readers [2]*bufio.Reader
	for i := range peers {
		c, err := ln.Dial(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		peers[i], readers[i] = c, bufio.NewReader(c)
		conn := sstest.WaitConnect(t, srv)
		if conn.RemoteAddr().String() != c.LocalAddr().String() {
			t.Fatalf("server sees %v, client is %v", conn.RemoteAddr(), c.LocalAddr())
		}
	}
	if n := len(srv.Conns()); n != 2 {
		t.Fatalf("Conns() has %d connections, want 2", n)
	}
	for _, c := range srv.Conns() {
		if err := c.Send([]byte("hi")); err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range readers {
		peers[i].SetReadDeadline(time.Now().Add(sstest.DefaultTimeout))
		line, err := r.ReadString('\n')
		if err != nil || line != "hi\n" {
			t.Fatalf("peer %d read %q, %v", i, line, err)
		}
	}
	peers[1].SetWriteDeadline(time.Now().Add(sstest.DefaultTimeout))
	if _, err := io.WriteString(peers[1], "yo\n"); err != nil {
		t.Fatal(err)
	}
	m := sstest.WaitMessage(t, srv)
	if string(m.Data) != "yo" || m.Conn.RemoteAddr().String() != peers[1].LocalAddr().String() {
		t.Fatalf("got %q from %v", m.Data, m.Conn.RemoteAddr())
	}
	peers[0].Close()
	if d := sstest.WaitDisconnect(t, srv); !errors.Is(d.Err, io.EOF) {
		t.Fatalf("Disconnect: %v", d.Err)
	}

	ln.Close()
	if _, err := ln.Dial(ctx); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Dial after Close: %v, want net.ErrClosed", err)
	}
}

func TestPipeDialContext(t *testing.T) {
	ln := sstest.NewPipeListener()
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ln.Dial(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Dial with a cancelled context: %v", err)
	}
}
