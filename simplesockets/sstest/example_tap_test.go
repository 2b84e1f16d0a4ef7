package sstest_test

import (
	"errors"
	"io"
	"testing"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
	"github.com/simplesockets/simplesockets-go/simplesockets/sstest"
)

// events is how the application reads its events: an *ss.Server in
// production, a *sstest.Tap in its tests.
type events interface {
	Connects() <-chan *ss.Conn
	Messages() <-chan ss.Message
	Disconnects() <-chan ss.Disconnect
}

// greeter is the application's loop, the code under test: it welcomes each
// connection and echoes its lines, until Disconnects is closed.
func greeter(ev events) {
	connects, messages, disconnects := ev.Connects(), ev.Messages(), ev.Disconnects()
	for {
		select {
		case c, ok := <-connects:
			if ok {
				c.Send([]byte("WELCOME"))
			}
		case m, ok := <-messages:
			if ok {
				m.Conn.Send(append([]byte("ECHO "), m.Data...))
			}
		case _, ok := <-disconnects:
			if !ok {
				return // the server has stopped
			}
		}
	}
}

// greeterTest tests greeter. In a _test.go file of yours it is a
// func TestGreeter(t *testing.T); this package's tests run it.
func greeterTest(t *testing.T) {
	srv := sstest.NewServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.Lines(0)}})
	tap := sstest.NewTap(t, srv) // before the first connection
	done := make(chan struct{})
	go func() {
		defer close(done)
		greeter(tap) // the real loop, reading from the Tap
	}()
	t.Cleanup(func() {
		srv.Close() // the Tap closes its channels after the server's
		<-done
	})

	c := sstest.DialLines(t, srv.Addr)
	c.Expect(t, "WELCOME")
	c.Say(t, "hello")
	c.Expect(t, "ECHO hello")

	// The application received the message, and the test sees it too.
	m := tap.WaitMessage(t, func(m ss.Message) bool { return string(m.Data) == "hello" })
	c.Close()
	d := tap.WaitDisconnect(t, func(d ss.Disconnect) bool { return d.Conn == m.Conn })
	if !errors.Is(d.Err, io.EOF) {
		t.Errorf("Disconnect reason %v, want io.EOF", d.Err)
	}
}

// A test that runs the application's own event loop and still asserts on
// the server's events: the loop reads from a Tap, which re-delivers every
// event in order and keeps a record for the test.
func ExampleTap() {
	// sstest needs the *testing.T of a running test: see greeterTest above.
}
