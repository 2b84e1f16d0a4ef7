package sstest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// maxLine bounds a line LineConn reads: a peer that sends more without a
// newline fails the test instead of filling memory.
const maxLine = 1 << 20

// LineConn is a raw TCP connection to a server that speaks a line protocol
// (ss.Lines framing, or any "text and a newline" protocol), for a test to
// play the client's side line by line with Say and Expect, without a
// simplesockets Client in between:
//
//	c := sstest.DialLines(t, srv.Addr)
//	c.Say(t, "HELLO alice")
//	c.Expect(t, "WELCOME alice")
//	c.ExpectPrefix(t, "USERS ")
//
// A line is what comes before a '\n'; the '\n' is not part of it, and a
// '\r' before it is kept, as ss.Lines keeps it. Each read and write has
// DefaultTimeout, so a server that does not answer fails the test instead
// of hanging it.
//
// The methods taking a testing.TB must be called from the test's goroutine
// (they may fail the test with tb.Fatalf). DialLines registers a cleanup
// that closes the connection.
type LineConn struct {
	conn net.Conn
	r    *bufio.Reader
	name string // for failure messages: "line conn to 127.0.0.1:port"

	closeOnce sync.Once
	closeErr  error
}

// DialLines connects to addr ("host:port") over TCP within DefaultTimeout,
// failing the test if it cannot, and registers a cleanup on tb that closes
// the connection.
func DialLines(tb testing.TB, addr string) *LineConn {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		tb.Fatalf("sstest: DialLines: %v", err)
	}
	c := &LineConn{conn: conn, r: bufio.NewReader(conn), name: "line conn to " + addr}
	tb.Cleanup(func() { c.Close() })
	return c
}

// Say writes line followed by '\n', failing the test if the write does not
// complete within DefaultTimeout.
func (c *LineConn) Say(tb testing.TB, line string) {
	tb.Helper()
	if err := c.conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		tb.Fatalf("sstest: %s: Say %q: %v", c.name, line, err)
	}
	if _, err := io.WriteString(c.conn, line+"\n"); err != nil {
		tb.Fatalf("sstest: %s: Say %q: %v", c.name, line, err)
	}
}

// ReadLine returns the next line, without its '\n'. It fails the test if
// no complete line arrives within DefaultTimeout, if the connection ends
// first, or if the line is longer than 1 MiB.
func (c *LineConn) ReadLine(tb testing.TB) string {
	tb.Helper()
	return c.read(tb, "ReadLine")
}

// Expect reads the next line and fails the test, saying what arrived, if
// it is not want, or if no line arrives within DefaultTimeout.
func (c *LineConn) Expect(tb testing.TB, want string) {
	tb.Helper()
	what := fmt.Sprintf("Expect %q", want)
	if got := c.read(tb, what); got != want {
		tb.Fatalf("sstest: %s: %s: got %s", c.name, what, quote([]byte(got)))
	}
}

// ExpectPrefix reads the next line and returns it. It fails the test,
// saying what arrived, if the line does not begin with prefix, or if no
// line arrives within DefaultTimeout.
func (c *LineConn) ExpectPrefix(tb testing.TB, prefix string) string {
	tb.Helper()
	what := fmt.Sprintf("ExpectPrefix %q", prefix)
	got := c.read(tb, what)
	if !strings.HasPrefix(got, prefix) {
		tb.Fatalf("sstest: %s: %s: got %s", c.name, what, quote([]byte(got)))
	}
	return got
}

// ExpectClosed waits up to DefaultTimeout for the server to close the
// connection (end of stream, or a reset). It fails the test, saying what
// arrived, if bytes arrive first, or if the connection is still open after
// DefaultTimeout.
func (c *LineConn) ExpectClosed(tb testing.TB) {
	tb.Helper()
	if err := c.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		tb.Fatalf("sstest: %s: ExpectClosed: %v", c.name, err)
	}
	var b [1]byte
	n, err := c.r.Read(b[:])
	switch {
	case n > 0:
		rest, _ := c.r.Peek(c.r.Buffered())
		tb.Fatalf("sstest: %s: ExpectClosed: got %s, want the connection closed", c.name, quote(append(b[:], rest...)))
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
	case errors.Is(err, os.ErrDeadlineExceeded):
		tb.Fatalf("sstest: %s: ExpectClosed: still open after %v", c.name, timeout)
	default:
		tb.Fatalf("sstest: %s: ExpectClosed: %v", c.name, err)
	}
}

// LocalAddr is the client's address, which is the RemoteAddr of the
// server's ss.Conn for this connection.
func (c *LineConn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// Close closes the connection. It is idempotent: later calls return the
// first call's error.
func (c *LineConn) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.conn.Close() })
	return c.closeErr
}

// read returns the next line without its '\n', or fails the test saying
// what (the helper and its argument) was waiting for it.
func (c *LineConn) read(tb testing.TB, what string) string {
	tb.Helper()
	if err := c.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		tb.Fatalf("sstest: %s: %s: %v", c.name, what, err)
	}
	var line []byte
	for {
		frag, err := c.r.ReadSlice('\n')
		line = append(line, frag...)
		switch {
		case err == nil:
			return string(line[:len(line)-1])
		case errors.Is(err, bufio.ErrBufferFull) && len(line) <= maxLine:
			continue
		case errors.Is(err, bufio.ErrBufferFull):
			tb.Fatalf("sstest: %s: %s: a line longer than %d bytes, beginning %s", c.name, what, maxLine, quote(line))
		}
		partial := ""
		if len(line) > 0 {
			partial = fmt.Sprintf(" (after %s, with no newline)", quote(line))
		}
		why := err.Error()
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			why = fmt.Sprintf("no line within %v", timeout)
		case errors.Is(err, io.EOF):
			why = "the server closed the connection"
		}
		tb.Fatalf("sstest: %s: %s: %s%s", c.name, what, why, partial)
	}
}

// quote quotes b for a failure message, up to 200 bytes of it.
func quote(b []byte) string {
	const show = 200
	if len(b) > show {
		return fmt.Sprintf("%q... (%d bytes)", b[:show], len(b))
	}
	return fmt.Sprintf("%q", b)
}
