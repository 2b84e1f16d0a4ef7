package simplesockets_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"math"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/simplesockets/simplesockets-go/internal/selfsigned"
	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// A peer that reads steadily (16 KiB every 20 ms = 800 KB/s; the sleeps pace
// the peer) gets a burst eight times MaxQueuedBytes in full under the
// Server's default policy. (This used to cut it as a slow consumer: progress
// was only seen per 256 KiB write.)
func TestSteadySlowReaderKeptUnix(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	srv, _ := startServer(t, ss.ServerConfig{Network: "unix", Addr: sock, Options: ss.Options{
		MaxQueuedBytes: 256 << 10, // default policy: SendQueueDisconnect, StallTimeout 100ms
	}})
	connects := srv.Connects()
	nc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	const msg, msgs = 32 << 10, 64 // 2 MiB
	got := paceRead(nc, msg*msgs, 20*time.Millisecond)
	c := recv(t, connects, "connect")
	for i := range msgs {
		if err := c.Send(make([]byte, msg)); err != nil {
			t.Errorf("Send #%d to a peer reading 800 KB/s: %v (SlowConsumers=%d)", i, err, srv.Stats().SlowConsumers)
			break
		}
	}
	if n := <-got; n != msg*msgs {
		t.Errorf("the steady reader got %d of %d bytes", n, msg*msgs)
	}
}

// The same from the Connects loop, the realistic form.
func TestCloseFromConnectsLoopWithIdleTimeout(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{IdleTimeout: 20 * time.Second}})
	conns, disc := srv.Connects(), srv.Disconnects()
	const n = 40
	for range n {
		dialRaw(t, addr)
		c := recv(t, conns, "connect")
		c.Close()
	}
	slow := 0
	deadline := time.After(5 * time.Second) // far below the idle timeout
	got := 0
loop:
	for got < n {
		select {
		case <-disc:
			got++
		case <-deadline:
			break loop
		}
	}
	slow = n - got
	if slow > 0 {
		t.Errorf("%d of %d connections closed right after Connect were still open 5s later", slow, n)
	}
	for got < n {
		recv(t, disc, "disconnect")
		got++
	}
}

// Delimited with a huge maxSize does not panic in Split. (f.max+1 used to
// overflow: the first byte from a peer took the process down.)
func TestDelimitedHugeMaxDoesNotPanic(t *testing.T) {
	f := ss.Delimited('\n', math.MaxInt)
	if _, err := ss.NewServer(ss.ServerConfig{Addr: "127.0.0.1:0", Options: ss.Options{Framing: f}}); err != nil {
		t.Logf("NewServer: %v", err)
	} else {
		t.Logf("NewServer accepted Delimited('\\n', math.MaxInt)")
	}
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("Split panicked: %v", p)
		}
	}()
	f.Split([]byte("hi\n"))
}

// A TLS peer that dies mid-record gets a Disconnect reason that matches a
// documented sentinel. (It used to be a bare "unexpected EOF".)
func TestTLSMidRecordReasonHasSentinel(t *testing.T) {
	pair, err := selfsigned.New("test")
	if err != nil {
		t.Fatal(err)
	}
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{TLSConfig: pair.ServerConfig()}})
	disc := srv.Disconnects()
	raw := dialRaw(t, addr)
	cc := pair.ClientConfig()
	cc.ServerName = "127.0.0.1"
	tc := tls.Client(raw, cc)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	raw.Write([]byte{23, 3, 3, 0, 100, 1, 2, 3}) // half an application-data record
	raw.(*net.TCPConn).CloseWrite()
	d := recv(t, disc, "disconnect")
	sentinels := []error{io.EOF, ss.ErrConnReset, ss.ErrReadTimeout,
		ss.ErrWriteTimeout, ss.ErrMessageTooLarge, ss.ErrInvalidMessage, ss.ErrSlowConsumer,
		ss.ErrClosed, ss.ErrServerClosed}
	for _, s := range sentinels {
		if errors.Is(d.Err, s) {
			return
		}
	}
	t.Errorf("Disconnect.Err %q (%T) matches no documented sentinel", d.Err, errors.Unwrap(d.Err))
}

// The same over TCP loopback, with a small receive buffer on the peer.
func TestSteadySlowReaderKeptTCP(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{MaxQueuedBytes: 256 << 10}})
	connects := srv.Connects()
	d := net.Dialer{}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.(*net.TCPConn).SetReadBuffer(32 << 10)
	const msg, msgs = 32 << 10, 256 // 8 MiB
	got := paceRead(nc, msg*msgs, 8*time.Millisecond)
	c := recv(t, connects, "connect")
	for i := range msgs {
		if err := c.Send(make([]byte, msg)); err != nil {
			t.Errorf("Send #%d to a peer reading 1.6 MB/s over TCP: %v", i, err)
			break
		}
	}
	if n := <-got; n != msg*msgs {
		t.Errorf("the steady reader got %d of %d bytes", n, msg*msgs)
	}
}

// paceRead reads total bytes from nc, 16 KiB every pace (the sleeps pace
// the reader: they are not synchronization), and sends how many it got.
func paceRead(nc net.Conn, total int, pace time.Duration) <-chan int {
	got := make(chan int, 1)
	go func() {
		n := 0
		buf := make([]byte, 16<<10)
		nc.SetReadDeadline(time.Now().Add(15 * time.Second))
		for n < total {
			time.Sleep(pace)
			k, err := io.ReadFull(nc, buf)
			n += k
			if err != nil {
				break
			}
		}
		got <- n
	}()
	return got
}

// upperLines is a user's framing: lines, handed over upper-cased (a new
// slice, not a sub-slice of the data), with the same two sizing methods as
// the built-in framings have. The reader used to take it for a built-in
// one and cut its messages out of the read buffer by offset: wrong data,
// or a slice out of range in the reader goroutine.
type upperLines struct{}

func (upperLines) Split(data []byte) (int, []byte, error) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		return 0, nil, nil
	}
	return i + 1, bytes.ToUpper(data[:i]), nil
}
func (upperLines) AppendFrame(dst, p []byte) ([]byte, error) {
	return append(append(dst, p...), '\n'), nil
}
func (upperLines) MaxFrameSize() int    { return 1 << 10 }
func (upperLines) FrameLen([]byte) int  { return 0 }
func (upperLines) EncodedLen(n int) int { return n + 1 }

func TestUserFramingWithSizingMethods(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{Framing: upperLines{}}})
	msgs := srv.Messages()
	nc := dialRaw(t, addr)
	want := []string{"HELLO", "A", "", "MORE WORDS HERE"}
	if _, err := nc.Write([]byte("hello\na\n\nmore words here\n")); err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if m := recv(t, msgs, "message"); string(m.Data) != w {
			t.Fatalf("got %q, want %q", m.Data, w)
		}
	}
}

// MaxQueuedBytes 1 is valid: the reader held off while half of it was
// queued, and half of 1 is 0, so it held off for good after the first
// Send (the second line was never read).
func TestMaxQueuedBytesOneKeepsReading(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.Lines(0), MaxQueuedBytes: 1}})
	msgs := srv.Messages()
	nc := dialRaw(t, addr)
	rd := bufio.NewReader(nc)
	for _, line := range []string{"one", "two", "three"} {
		if _, err := nc.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
		m := recv(t, msgs, line)
		if err := m.Conn.Send(m.Data); err != nil {
			t.Fatalf("Send %s: %v", line, err)
		}
		nc.SetReadDeadline(time.Now().Add(wait))
		if got, err := rd.ReadString('\n'); err != nil || got != line+"\n" {
			t.Fatalf("echo of %s: %q, %v", line, got, err)
		}
	}
}
