package sstest_test

import (
	"strings"
	"testing"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
	"github.com/simplesockets/simplesockets-go/simplesockets/sstest"
)

// serveKV is the code under test: a line protocol where "SET key value"
// answers "OK", "GET key" answers "VALUE value" or "NOTFOUND", and "QUIT"
// answers "BYE" and closes the connection. It returns when the server's
// Messages channel is closed.
func serveKV(srv *ss.Server) {
	store := map[string]string{}
	for m := range srv.Messages() {
		f := strings.Fields(string(m.Data))
		switch {
		case len(f) == 3 && f[0] == "SET":
			store[f[1]] = f[2]
			m.Conn.Send([]byte("OK"))
		case len(f) == 2 && f[0] == "GET":
			if v, ok := store[f[1]]; ok {
				m.Conn.Send([]byte("VALUE " + v))
			} else {
				m.Conn.Send([]byte("NOTFOUND"))
			}
		case len(f) == 1 && f[0] == "QUIT":
			m.Conn.Send([]byte("BYE"))
			m.Conn.Close() // writes BYE first
		default:
			m.Conn.Send([]byte("ERR unknown command " + string(m.Data)))
		}
	}
}

// kvTest tests serveKV by playing a client line by line. In a _test.go
// file of yours it is a func TestKV(t *testing.T); this package's tests
// run it.
func kvTest(t *testing.T) {
	srv := sstest.NewServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.Lines(0)}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		serveKV(srv.Server)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})

	c := sstest.DialLines(t, srv.Addr)
	c.Say(t, "GET colour")
	c.Expect(t, "NOTFOUND")
	c.Say(t, "SET colour blue")
	c.Expect(t, "OK")
	c.Say(t, "GET colour")
	c.Expect(t, "VALUE blue")
	c.Say(t, "FLY")
	c.ExpectPrefix(t, "ERR ")
	c.Say(t, "QUIT")
	c.Expect(t, "BYE")
	c.ExpectClosed(t)
}

// A test of a line protocol from the client's side, with a raw TCP
// connection: Say writes a line, Expect reads the next one and fails the
// test, saying what arrived, if it differs or does not come in time.
func ExampleDialLines() {
	// sstest needs the *testing.T of a running test: see kvTest above.
}
