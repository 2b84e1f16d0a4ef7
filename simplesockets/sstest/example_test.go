package sstest_test

import (
	"bytes"
	"testing"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
	"github.com/simplesockets/simplesockets-go/simplesockets/sstest"
)

// serveUpper is the code under test: it answers every line in upper case,
// until the server's Messages channel is closed.
func serveUpper(srv *ss.Server) {
	for m := range srv.Messages() {
		m.Conn.Send(bytes.ToUpper(m.Data))
	}
}

// upperTest tests serveUpper. In a _test.go file of yours it is a
// func TestUpper(t *testing.T); this package's tests run it.
func upperTest(t *testing.T) {
	srv := sstest.NewServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.Lines(0)}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		serveUpper(srv.Server)
	}()
	t.Cleanup(func() {
		// Cleanups run last-registered first: close the server (which
		// closes Messages) before waiting for serveUpper to return.
		srv.Close()
		<-done
	})

	cli := srv.Dial(t, ss.ClientConfig{}) // Lines too: the server's framing
	if err := cli.Send([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if got := sstest.WaitMessage(t, cli); string(got.Data) != "HELLO" {
		t.Errorf("got %q, want HELLO", got.Data)
	}
}

// A test of a server's code with sstest: the server listens on a loopback
// port, the client speaks its framing, and the cleanups registered on t
// stop both when the test ends.
func ExampleNewServer() {
	// sstest needs the *testing.T of a running test: see upperTest above.
}
