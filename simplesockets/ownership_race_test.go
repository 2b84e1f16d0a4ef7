//go:build race

package simplesockets_test

import (
	"bytes"
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
	// Two small messages, in one block or two: poisoned once both are
	// released.
	small := bytes.Repeat([]byte("s"), 300)
	writeLen32(t, c, small)
	writeLen32(t, c, small)
	m1, m2 := recv(t, srv.Messages(), "message"), recv(t, srv.Messages(), "message")
	m1.Release()
	m2.Release()
	for _, d := range [][]byte{m1.Data, m2.Data} {
		if !bytes.Equal(d, bytes.Repeat([]byte{0xDD}, 300)) {
			t.Fatalf("a released small Data is %q..., want the 0xDD poison", d[:8])
		}
	}
}
