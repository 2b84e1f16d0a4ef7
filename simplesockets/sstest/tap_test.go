package sstest_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
	"github.com/simplesockets/simplesockets-go/simplesockets/sstest"
)

func TestExampleTap(t *testing.T) { greeterTest(t) }

var lines = ss.Options{Framing: ss.Lines(0)}

// app is an application loop under test: it reads the channels of src it
// is told to, in one select loop, answers every message in upper case if
// told to, and logs every event it receives ("C id", "M id data", "D id").
type app struct {
	done chan struct{}

	mu  sync.Mutex
	log []string
}

// appConfig says how the app subscribes and what it does.
type appConfig struct {
	echo                  bool // answer each message in upper case
	connects, disconnects bool // read them too (Messages always)
	messagesFirst         bool // call Messages before Connects
	start                 chan struct{}
}

func startApp(src sstest.Source, cfg appConfig) *app {
	a := &app{done: make(chan struct{})}
	go func() {
		defer close(a.done)
		if cfg.start != nil {
			<-cfg.start
		}
		var (
			connects    <-chan *ss.Conn
			messages    <-chan ss.Message
			disconnects <-chan ss.Disconnect
		)
		if cfg.messagesFirst {
			messages = src.Messages()
		}
		if cfg.connects {
			connects = src.Connects()
		}
		if !cfg.messagesFirst {
			messages = src.Messages()
		}
		if cfg.disconnects {
			disconnects = src.Disconnects()
		}
		for messages != nil || disconnects != nil {
			select {
			case c, ok := <-connects:
				if !ok {
					connects = nil
					break
				}
				a.add(fmt.Sprintf("C %d", c.ID()))
			case m, ok := <-messages:
				if !ok {
					messages = nil
					break
				}
				a.add(fmt.Sprintf("M %d %s", m.Conn.ID(), m.Data))
				if cfg.echo {
					m.Conn.Send(bytes.ToUpper(m.Data))
				}
				// The application owns its copy: the record has its own.
				clear(m.Data)
				m.Release()
			case d, ok := <-disconnects:
				if !ok {
					disconnects = nil
					break
				}
				a.add(fmt.Sprintf("D %d", d.Conn.ID()))
			}
		}
	}()
	return a
}

func (a *app) add(s string) {
	a.mu.Lock()
	a.log = append(a.log, s)
	a.mu.Unlock()
}

// wait waits for the app's loop to end and returns its log.
func (a *app) wait(t *testing.T) []string {
	t.Helper()
	select {
	case <-a.done:
	case <-time.After(sstest.DefaultTimeout):
		t.Fatal("the application's loop did not end")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.log)
}

func dataIs(s string) func(ss.Message) bool {
	return func(m ss.Message) bool { return string(m.Data) == s }
}

func from(c *sstest.LineConn) func(*ss.Conn) bool {
	return func(conn *ss.Conn) bool { return conn.RemoteAddr().String() == c.LocalAddr().String() }
}

func TestTapAppAndTestBothSeeEvents(t *testing.T) {
	srv := sstest.NewServer(t, ss.ServerConfig{Options: lines})
	tap := sstest.NewTap(t, srv)
	a := startApp(tap, appConfig{echo: true, connects: true, disconnects: true})

	c := sstest.DialLines(t, srv.Addr)
	c.Say(t, "hello")
	c.Expect(t, "HELLO") // the application got it
	m := tap.WaitMessage(t, dataIs("hello"))
	if again := tap.WaitMessage(t, dataIs("hello")); again.Conn != m.Conn || string(again.Data) != "hello" {
		t.Fatalf("second WaitMessage: %q on %v, want the same message", again.Data, again.Conn)
	}
	conn := tap.WaitConnect(t, from(c))
	if m.Conn != conn {
		t.Fatalf("message on %v, connection %v", m.Conn, conn)
	}
	c.Close()
	d := tap.WaitDisconnect(t, func(d ss.Disconnect) bool { return d.Conn == conn })
	if !errors.Is(d.Err, io.EOF) {
		t.Fatalf("Disconnect: %v, want io.EOF", d.Err)
	}
	srv.Close()

	id := conn.ID()
	want := []string{fmt.Sprintf("C %d", id), fmt.Sprintf("M %d hello", id), fmt.Sprintf("D %d", id)}
	if got := a.wait(t); !slices.Equal(got, want) {
		t.Fatalf("the application received %q, want %q", got, want)
	}
	r := tap.Seen()
	if len(r.Connects) != 1 || len(r.Messages) != 1 || len(r.Disconnects) != 1 || len(r.Errors) != 0 || r.Dropped != 0 || r.Forgotten != 0 {
		t.Fatalf("Seen: %+v", r)
	}
	// The application cleared and released its Data: the record's copy
	// is intact.
	if string(r.Messages[0].Data) != "hello" {
		t.Fatalf("recorded data %q, want hello", r.Messages[0].Data)
	}
}

// TestTapOrder checks that the application receives every event of the
// channels it reads, in the Tap's order, with each connection's Connect
// first, its messages in order and its Disconnect last, however it
// subscribes and whenever its loop starts.
func TestTapOrder(t *testing.T) {
	const conns, perConn = 6, 15
	for _, tc := range []struct {
		name string
		cfg  appConfig
		late bool // start the loop once every event is in the record
	}{
		{"all channels", appConfig{connects: true, disconnects: true}, false},
		{"Messages subscribed first", appConfig{connects: true, disconnects: true, messagesFirst: true}, false},
		{"loop starts late", appConfig{connects: true, disconnects: true}, true},
		{"late, Messages first", appConfig{connects: true, disconnects: true, messagesFirst: true}, true},
		{"Messages only", appConfig{}, false},
		{"Messages and Disconnects", appConfig{disconnects: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := sstest.NewServer(t, ss.ServerConfig{Options: lines})
			tap := sstest.NewTap(t, srv)
			cfg := tc.cfg
			if tc.late {
				cfg.start = make(chan struct{})
			}
			a := startApp(tap, cfg)

			// Each connection says its lines as soon as it is made, so
			// that the connections' events interleave.
			var cs []*sstest.LineConn
			for i := range conns {
				c := sstest.DialLines(t, srv.Addr)
				cs = append(cs, c)
				for j := range perConn {
					c.Say(t, fmt.Sprintf("%d.%d", i, j))
				}
				if i%2 == 1 {
					cs[i-1].Close()
				}
			}
			for _, c := range cs {
				c.Close()
			}
			for _, c := range cs {
				conn := tap.WaitConnect(t, from(c))
				tap.WaitDisconnect(t, func(d ss.Disconnect) bool { return d.Conn == conn })
			}
			if tc.late {
				close(cfg.start)
			}
			srv.Close()
			got := a.wait(t)

			// The application received the events of the channels it
			// reads in exactly the order the Tap received them.
			var want []string
			for _, e := range tap.Order() {
				if (e[0] == 'C' && !tc.cfg.connects) || (e[0] == 'D' && !tc.cfg.disconnects) {
					continue
				}
				want = append(want, e)
			}
			if r := tap.Seen(); len(r.Messages) != conns*perConn || len(r.Connects) != conns || len(r.Disconnects) != conns {
				t.Fatalf("recorded %d connects, %d messages, %d disconnects; want %d, %d, %d",
					len(r.Connects), len(r.Messages), len(r.Disconnects), conns, conns*perConn, conns)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("the application received, in this order:\n%q\nthe Tap received:\n%q", got, want)
			}

			// Per connection: Connect, its messages in order, Disconnect.
			perConnLog := map[string][]string{}
			for _, e := range got {
				f := strings.SplitN(e, " ", 3)
				perConnLog[f[1]] = append(perConnLog[f[1]], e)
			}
			for id, evs := range perConnLog {
				var exp []string
				if tc.cfg.connects {
					exp = append(exp, "C "+id)
				}
				var msgs []string
				for _, e := range evs {
					if strings.HasPrefix(e, "M ") {
						msgs = append(msgs, e)
					}
				}
				if len(msgs) != perConn {
					t.Fatalf("connection %s: %d messages, want %d", id, len(msgs), perConn)
				}
				// "M id peer.j": the peer's lines, in the order it said them.
				peer, _, _ := strings.Cut(strings.SplitN(msgs[0], " ", 3)[2], ".")
				for j := range perConn {
					exp = append(exp, fmt.Sprintf("M %s %s.%d", id, peer, j))
				}
				if tc.cfg.disconnects {
					exp = append(exp, "D "+id)
				}
				if !slices.Equal(evs, exp) {
					t.Fatalf("connection %s: the application received %q, want %q", id, evs, exp)
				}
			}
			if r := tap.Seen(); r.Dropped != 0 {
				t.Errorf("Dropped = %d, want 0", r.Dropped)
			}
		})
	}
}

// TestTapHoldsBackForLateSubscribers: events for a channel nobody asked
// for are held back, up to the limit; beyond it lifecycle events are
// dropped for the application and Messages wait in the source.
func TestTapHoldsBackForLateSubscribers(t *testing.T) {
	sstest.SetTapLimits(t, 2, 4096, 1<<20)
	srv := sstest.NewServer(t, ss.ServerConfig{Options: lines})
	tap := sstest.NewTap(t, srv)

	var cs []*sstest.LineConn
	for range 3 {
		c := sstest.DialLines(t, srv.Addr)
		tap.WaitConnect(t, from(c))
		cs = append(cs, c)
	}
	// Two Connects held back, the third dropped (but recorded).
	if r := tap.Seen(); len(r.Connects) != 3 || r.Dropped != 1 {
		t.Fatalf("Seen: %d connects, %d dropped; want 3 and 1", len(r.Connects), r.Dropped)
	}
	for i := range 5 {
		cs[0].Say(t, fmt.Sprint(i))
	}
	tap.WaitMessage(t, dataIs("1"))
	// Two messages held back: the Tap takes no more from the server.
	if n := len(tap.Seen().Messages); n != 2 {
		t.Fatalf("recorded %d messages with Messages not subscribed, want 2", n)
	}

	messages := tap.Messages()
	for i := range 5 {
		m := sstest.Next(t, messages, 0)
		if string(m.Data) != fmt.Sprint(i) {
			t.Fatalf("message %d: %q", i, m.Data)
		}
	}
	connects := tap.Connects()
	for i, c := range cs[:2] {
		if conn := sstest.Next(t, connects, 0); !from(c)(conn) {
			t.Fatalf("Connect %d is %v, want the connection from %v", i, conn, c.LocalAddr())
		}
	}
	srv.Close()
	// The channels are closed once the source's are and nothing is held.
	closed(t, connects)
	closed(t, messages)
	// Disconnects: held back (limit 2), the third dropped; delivered now.
	disconnects := tap.Disconnects()
	for range 2 {
		if d := sstest.Next(t, disconnects, 0); !errors.Is(d.Err, ss.ErrServerClosed) {
			t.Fatalf("Disconnect: %v", d.Err)
		}
	}
	closed(t, disconnects)
	closed(t, tap.Errors())
	if r := tap.Seen(); len(r.Disconnects) != 3 || r.Dropped != 2 {
		t.Fatalf("Seen: %d disconnects, %d dropped; want 3 and 2", len(r.Disconnects), r.Dropped)
	}
}

// closed fails the test unless ch is closed (within DefaultTimeout) without
// delivering anything.
func closed[T any](t *testing.T, ch <-chan T) {
	t.Helper()
	select {
	case v, ok := <-ch:
		if ok {
			t.Fatalf("%T delivered %v, want it closed", ch, v)
		}
	case <-time.After(sstest.DefaultTimeout):
		t.Fatalf("%T still open", ch)
	}
}

func TestTapRecordIsBounded(t *testing.T) {
	sstest.SetTapLimits(t, 1024, 3, 10)
	srv := sstest.NewServer(t, ss.ServerConfig{Options: lines})
	tap := sstest.NewTap(t, srv)
	a := startApp(tap, appConfig{echo: true})
	c := sstest.DialLines(t, srv.Addr)
	for _, s := range []string{"a", "b", "c", "d"} {
		c.Say(t, s)
		c.Expect(t, strings.ToUpper(s))
	}
	// Connect, a, b, c, d: the latest three are kept.
	r := tap.Seen()
	if got := msgData(r.Messages); !slices.Equal(got, []string{"b", "c", "d"}) || len(r.Connects) != 0 || r.Forgotten != 2 {
		t.Fatalf("Seen: messages %q, %d connects, %d forgotten; want [b c d], 0, 2", got, len(r.Connects), r.Forgotten)
	}
	// 16 bytes, over the 10-byte bound: it is kept alone.
	c.Say(t, "0123456789abcdef")
	c.Expect(t, "0123456789ABCDEF")
	r = tap.Seen()
	if got := msgData(r.Messages); !slices.Equal(got, []string{"0123456789abcdef"}) || r.Forgotten != 5 {
		t.Fatalf("Seen: messages %q, %d forgotten; want the long one and 5", got, r.Forgotten)
	}
	// A wait looks from the oldest event kept on.
	if m := tap.WaitMessage(t, nil); string(m.Data) != "0123456789abcdef" {
		t.Fatalf("WaitMessage(nil) = %q", m.Data)
	}
	srv.Close()
	a.wait(t)
}

func msgData(ms []ss.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, string(m.Data))
	}
	return out
}

func TestTapWaitFailures(t *testing.T) {
	sstest.SetTimeout(t, 50*time.Millisecond)
	for _, tc := range []struct {
		name  string
		close bool // close the server before waiting
		wait  func(tb testing.TB, tap *sstest.Tap)
		want  string
	}{
		{
			name: "timeout",
			wait: func(tb testing.TB, tap *sstest.Tap) { tap.WaitError(tb, nil) },
			want: "sstest: Tap: no matching error within 50ms; recorded no error",
		},
		{
			name: "timeout shows what was seen",
			wait: func(tb testing.TB, tap *sstest.Tap) { tap.WaitMessage(tb, dataIs("nope")) },
			want: `sstest: Tap: no matching message within 50ms; recorded 1 message(s): "hello" on conn 1 (`,
		},
		{
			name:  "source closed",
			close: true,
			wait:  func(tb testing.TB, tap *sstest.Tap) { tap.WaitConnect(tb, func(*ss.Conn) bool { return false }) },
			want:  "sstest: Tap: the source closed its channels without a matching connection; recorded 1 connection(s): conn 1 (",
		},
		{
			name:  "source closed, disconnects",
			close: true,
			wait: func(tb testing.TB, tap *sstest.Tap) {
				tap.WaitDisconnect(tb, func(d ss.Disconnect) bool { return errors.Is(d.Err, io.EOF) })
			},
			want: "sstest: Tap: the source closed its channels without a matching disconnect; recorded 1 disconnect(s): conn 1 (",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := sstest.NewServer(t, ss.ServerConfig{Options: lines})
			tap := sstest.NewTap(t, srv)
			a := startApp(tap, appConfig{echo: true, connects: true, disconnects: true})
			c := sstest.DialLines(t, srv.Addr)
			c.Say(t, "hello")
			c.Expect(t, "HELLO")
			if tc.close {
				srv.Close()
				a.wait(t)
			}
			msg := failure(t, func(tb testing.TB) { tc.wait(tb, tap) })
			if !strings.HasPrefix(msg, tc.want) {
				t.Fatalf("failure %q, want it to begin %q", msg, tc.want)
			}
			srv.Close()
			a.wait(t)
		})
	}
}

// TestTapCleanupEndsTheLoop: the test does not stop the application's
// loop; the Tap's cleanup closes its channels, which does.
func TestTapCleanupEndsTheLoop(t *testing.T) {
	var a *app
	var tap *sstest.Tap
	t.Run("sub", func(t *testing.T) {
		srv := sstest.NewServer(t, ss.ServerConfig{Options: lines})
		tap = sstest.NewTap(t, srv)
		a = startApp(tap, appConfig{echo: true, connects: true, disconnects: true})
		c := sstest.DialLines(t, srv.Addr)
		c.Say(t, "x")
		c.Expect(t, "X")
		tap.WaitConnect(t, from(c))
	})
	a.wait(t)
	if r := tap.Seen(); len(r.Connects) != 1 || len(r.Messages) != 1 {
		t.Fatalf("Seen: %+v", r)
	}
}

func TestTapClient(t *testing.T) {
	srv := sstest.NewServer(t, ss.ServerConfig{Options: lines})
	cli := srv.Dial(t, ss.ClientConfig{})
	conn := sstest.WaitConnect(t, srv) // the server is not tapped
	id := cli.Conn().ID()
	tap := sstest.NewTap(t, cli)
	// The client's Connect came before the Tap: let the Tap take it before
	// the first message, which is then ordered after it.
	tap.WaitConnect(t, nil)
	a := startApp(tap, appConfig{echo: true, connects: true, disconnects: true})
	conn.Send([]byte("hi"))
	if m := tap.WaitMessage(t, nil); string(m.Data) != "hi" || m.Conn != cli.Conn() {
		t.Fatalf("message %q on %v", m.Data, m.Conn)
	}
	// The client's application answered through the Tap's message.
	if m := sstest.WaitMessage(t, srv); string(m.Data) != "HI" {
		t.Fatalf("server got %q", m.Data)
	}
	cli.Close()
	if d := tap.WaitDisconnect(t, nil); !errors.Is(d.Err, ss.ErrClosed) {
		t.Fatalf("Disconnect: %v, want ErrClosed", d.Err)
	}
	want := []string{fmt.Sprintf("C %d", id), fmt.Sprintf("M %d hi", id), fmt.Sprintf("D %d", id)}
	if got := a.wait(t); !slices.Equal(got, want) {
		t.Fatalf("the application received %q, want %q", got, want)
	}
}

// TestTapOfTap: a Tap is a Source too.
func TestTapOfTap(t *testing.T) {
	srv := sstest.NewServer(t, ss.ServerConfig{Options: lines})
	outer := sstest.NewTap(t, srv)
	inner := sstest.NewTap(t, outer)
	a := startApp(inner, appConfig{echo: true, connects: true, disconnects: true})
	c := sstest.DialLines(t, srv.Addr)
	c.Say(t, "x")
	c.Expect(t, "X")
	outer.WaitMessage(t, dataIs("x"))
	inner.WaitMessage(t, dataIs("x"))
	c.Close()
	inner.WaitDisconnect(t, nil)
	srv.Close()
	if got := a.wait(t); len(got) != 3 {
		t.Fatalf("the application received %q", got)
	}
}
