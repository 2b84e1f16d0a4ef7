//go:build race

package simplesockets_test

import (
	"testing"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// Under the race detector a released buffer is overwritten at once, so
// code that still reads a Data after releasing it sees garbage in its tests.
func TestReleasePoisonsUnderRace(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.LengthPrefixed(0)}})
	c := dialRaw(t, addr)
	writeLen32(t, c, bigPayload(1))
	m := recv(t, srv.Messages(), "message")
	m.Release()
	for i, b := range m.Data {
		if b != 0xDD {
			t.Fatalf("byte %d of a released Data is %#x, want the 0xDD poison", i, b)
		}
	}
}
