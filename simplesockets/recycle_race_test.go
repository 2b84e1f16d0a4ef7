//go:build race

package simplesockets_test

import (
	"testing"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// Under the race detector a large Data sent back on its own connection is
// overwritten as soon as Send returns, so that code which still reads it
// fails in its tests every time, not once in a while under load.
func TestRecycledDataPoisonedUnderRace(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.LengthPrefixed(0)}})
	c := dialRaw(t, addr)
	writeLen32(t, c, bigPayload(1))
	m := recv(t, srv.Messages(), "message")
	if err := m.Conn.Send(m.Data); err != nil {
		t.Fatal(err)
	}
	readLen32(t, c) // the echo is intact; nothing new is read meanwhile
	for i, b := range m.Data {
		if b != 0xDD {
			t.Fatalf("byte %d of a Data sent back is %#x, want the 0xDD poison", i, b)
		}
	}
}
