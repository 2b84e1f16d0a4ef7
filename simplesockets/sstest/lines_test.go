package sstest_test

import (
	"cmp"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
	"github.com/simplesockets/simplesockets-go/simplesockets/sstest"
)

func TestExampleDialLines(t *testing.T) { kvTest(t) }

// scripted listens on 127.0.0.1 and, to the one connection it accepts,
// writes script, then closes it if hangUp is set, or else keeps it open
// until the client closes it. It returns the address.
func scripted(t *testing.T, script string, hangUp bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(sstest.DefaultTimeout))
		io.WriteString(c, script)
		if !hangUp {
			io.Copy(io.Discard, c) // until the client closes
		}
	}()
	// Registered before the client's cleanup, so it runs after it: the
	// client has closed by then.
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

func TestLineConn(t *testing.T) {
	long := strings.Repeat("x", 1<<20+10000)
	for _, tc := range []struct {
		name    string
		script  string
		hangUp  bool
		timeout time.Duration // if zero, 100ms
		do      func(tb testing.TB, c *sstest.LineConn)
		want    string // the failure's beginning; "" for none
	}{
		{
			name:   "Expect",
			script: "hello\nworld\n",
			do: func(tb testing.TB, c *sstest.LineConn) {
				c.Expect(tb, "hello")
				c.Expect(tb, "world")
			},
		},
		{
			name:   "Expect mismatch",
			script: "HELLO2\n",
			do:     func(tb testing.TB, c *sstest.LineConn) { c.Expect(tb, "HELLO") },
			want:   `sstest: line conn to 127.0.0.1:PORT: Expect "HELLO": got "HELLO2"`,
		},
		{
			name:   "carriage return is kept",
			script: "hi\r\n\n",
			do: func(tb testing.TB, c *sstest.LineConn) {
				if got := c.ReadLine(tb); got != "hi\r" {
					tb.Fatalf("ReadLine = %q", got)
				}
				c.Expect(tb, "")
			},
		},
		{
			name:   "ExpectPrefix",
			script: "USERS alice bob\n",
			do: func(tb testing.TB, c *sstest.LineConn) {
				if got := c.ExpectPrefix(tb, "USERS "); got != "USERS alice bob" {
					tb.Fatalf("ExpectPrefix returned %q", got)
				}
			},
		},
		{
			name:   "ExpectPrefix mismatch",
			script: "ERR busy\n",
			do:     func(tb testing.TB, c *sstest.LineConn) { c.ExpectPrefix(tb, "USERS ") },
			want:   `sstest: line conn to 127.0.0.1:PORT: ExpectPrefix "USERS ": got "ERR busy"`,
		},
		{
			name: "timeout",
			do:   func(tb testing.TB, c *sstest.LineConn) { c.Expect(tb, "hello") },
			want: `sstest: line conn to 127.0.0.1:PORT: Expect "hello": no line within 100ms`,
		},
		{
			name:   "timeout in a line",
			script: "hel",
			do:     func(tb testing.TB, c *sstest.LineConn) { c.Expect(tb, "hello") },
			want:   `sstest: line conn to 127.0.0.1:PORT: Expect "hello": no line within 100ms (after "hel", with no newline)`,
		},
		{
			name:   "closed before a line",
			script: "par",
			hangUp: true,
			do:     func(tb testing.TB, c *sstest.LineConn) { c.ReadLine(tb) },
			want:   `sstest: line conn to 127.0.0.1:PORT: ReadLine: the server closed the connection (after "par", with no newline)`,
		},
		{
			name:    "line too long",
			script:  long,
			timeout: sstest.DefaultTimeout,
			do:      func(tb testing.TB, c *sstest.LineConn) { c.ReadLine(tb) },
			want:    `sstest: line conn to 127.0.0.1:PORT: ReadLine: a line longer than 1048576 bytes, beginning "` + strings.Repeat("x", 200) + `"... (10`,
		},
		{
			name:   "ExpectClosed",
			script: "BYE\n",
			hangUp: true,
			do: func(tb testing.TB, c *sstest.LineConn) {
				c.Expect(tb, "BYE")
				c.ExpectClosed(tb)
			},
		},
		{
			name:   "ExpectClosed gets data",
			script: "BYE\n",
			hangUp: true,
			do:     func(tb testing.TB, c *sstest.LineConn) { c.ExpectClosed(tb) },
			want:   `sstest: line conn to 127.0.0.1:PORT: ExpectClosed: got "B`,
		},
		{
			name: "ExpectClosed still open",
			do:   func(tb testing.TB, c *sstest.LineConn) { c.ExpectClosed(tb) },
			want: `sstest: line conn to 127.0.0.1:PORT: ExpectClosed: still open after 100ms`,
		},
		{
			name: "Say after Close",
			do: func(tb testing.TB, c *sstest.LineConn) {
				if err := c.Close(); err != nil {
					tb.Fatalf("Close: %v", err)
				}
				if err := c.Close(); err != nil {
					tb.Fatalf("second Close: %v", err)
				}
				c.Say(tb, "hello")
			},
			want: `sstest: line conn to 127.0.0.1:PORT: Say "hello": `,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sstest.SetTimeout(t, cmp.Or(tc.timeout, 100*time.Millisecond))
			addr := scripted(t, tc.script, tc.hangUp)
			c := sstest.DialLines(t, addr)
			msg := failure(t, func(tb testing.TB) { tc.do(tb, c) })
			want := strings.ReplaceAll(tc.want, "127.0.0.1:PORT", addr)
			switch {
			case want == "" && msg != "":
				t.Fatalf("failed: %s", msg)
			case !strings.HasPrefix(msg, want):
				t.Fatalf("failure %q, want it to begin %q", msg, want)
			}
		})
	}
}

// TestLineConnSay: the server receives what Say writes, one message per
// line, from the connection LocalAddr names.
func TestLineConnSay(t *testing.T) {
	srv := sstest.NewServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.Lines(0)}})
	c := sstest.DialLines(t, srv.Addr)
	conn := sstest.WaitConnect(t, srv)
	if conn.RemoteAddr().String() != c.LocalAddr().String() {
		t.Fatalf("server's conn is from %v, LocalAddr %v", conn.RemoteAddr(), c.LocalAddr())
	}
	for _, line := range []string{"one", "", "three words here"} {
		c.Say(t, line)
		if m := sstest.WaitMessage(t, srv); string(m.Data) != line || m.Conn != conn {
			t.Fatalf("server got %q on %v, want %q", m.Data, m.Conn, line)
		}
	}
	conn.Send([]byte("bye"))
	conn.Close()
	c.Expect(t, "bye")
	c.ExpectClosed(t)
}

func TestDialLinesFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	msg := failure(t, func(tb testing.TB) { sstest.DialLines(tb, addr) })
	if !strings.HasPrefix(msg, "sstest: DialLines: dial tcp "+addr) {
		t.Fatalf("failure %q", msg)
	}
}
