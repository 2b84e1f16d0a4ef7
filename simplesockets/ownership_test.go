package simplesockets_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"unsafe"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// Message.Data is the receiver's, always: these tests pin that down for
// large frames (read into buffers of their own), including after a Send.

const bigFrame = 64 << 10

// bigPayload is a frame body whose every byte depends on seq.
func bigPayload(seq int) []byte {
	p := make([]byte, bigFrame)
	for i := range p {
		p[i] = byte(seq*7 + i*13 + i>>8)
	}
	return p
}

func writeLen32(t testing.TB, c net.Conn, p []byte) {
	t.Helper()
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(p)))
	if _, err := c.Write(append(hdr[:], p...)); err != nil {
		t.Fatal(err)
	}
}

func readLen32(t testing.TB, c net.Conn) []byte {
	t.Helper()
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(c, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func dataAddr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// A Data that is kept is never reused: not one that was never sent, and
// not one that was sent back either (this used to be recycled after an
// echo, unless KeepData was set).
func TestKeptDataNeverReused(t *testing.T) {
	for _, tc := range []struct {
		name string
		send bool
	}{
		{"kept without Send", false},
		{"kept after Send", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{
				Framing: ss.LengthPrefixed(0)}})
			c := dialRaw(t, addr)
			var kept [][]byte
			seen := map[uintptr]bool{}
			for seq := range 32 {
				writeLen32(t, c, bigPayload(seq))
				m := recv(t, srv.Messages(), "message")
				if seen[dataAddr(m.Data)] {
					t.Fatalf("frame %d reuses the memory of a kept Data", seq)
				}
				seen[dataAddr(m.Data)] = true
				kept = append(kept, m.Data)
				if tc.send {
					if err := m.Conn.Send(m.Data); err != nil {
						t.Fatal(err)
					}
					if got := readLen32(t, c); !bytes.Equal(got, bigPayload(seq)) {
						t.Fatalf("echo %d differs", seq)
					}
				}
			}
			for seq, d := range kept {
				if !bytes.Equal(d, bigPayload(seq)) {
					t.Fatalf("kept Data %d changed after later messages", seq)
				}
			}
		})
	}
}

// A large Data sent elsewhere than back on its own connection (to other
// peers, with Send or Broadcast) is only copied: it stays the receiver's,
// so one Data can go to many peers and be kept.
func TestDataSentElsewhereStaysReceivers(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.LengthPrefixed(0)}})
	var cs []net.Conn
	for range 3 {
		cs = append(cs, dialRaw(t, addr))
		recv(t, srv.Connects(), "connect")
	}
	var kept [][]byte
	for seq := range 16 {
		want := bigPayload(seq)
		from := cs[seq%3]
		writeLen32(t, from, want)
		m := recv(t, srv.Messages(), "message")
		kept = append(kept, m.Data)
		for _, c := range srv.Conns() { // even: to all; odd: to the others
			if seq%2 == 0 || c != m.Conn {
				if err := c.Send(m.Data); err != nil {
					t.Fatal(err)
				}
			}
		}
		for i, c := range cs {
			if seq%2 == 1 && c == from {
				continue
			}
			if got := readLen32(t, c); !bytes.Equal(got, want) {
				t.Fatalf("frame %d differs at client %d", seq, i)
			}
		}
	}
	for seq, d := range kept {
		if !bytes.Equal(d, bigPayload(seq)) {
			t.Fatalf("Data %d changed after it was sent to other peers", seq)
		}
	}
}

// A Send that fails leaves the Data with the receiver.
func TestFailedSendKeepsData(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.LengthPrefixed(0)}})
	a := dialRaw(t, addr)
	writeLen32(t, a, bigPayload(0))
	m := recv(t, srv.Messages(), "message")
	a.Close()
	recv(t, srv.Disconnects(), "disconnect")
	if err := m.Conn.Send(m.Data); !errors.Is(err, ss.ErrClosed) {
		t.Fatalf("Send on an ended connection: %v, want ErrClosed", err)
	}
	b := dialRaw(t, addr)
	for seq := 1; seq < 16; seq++ {
		writeLen32(t, b, bigPayload(seq))
		n := recv(t, srv.Messages(), "message")
		if err := n.Conn.Send(n.Data); err != nil {
			t.Fatal(err)
		}
		readLen32(t, b)
	}
	if !bytes.Equal(m.Data, bigPayload(0)) {
		t.Fatal("the Data of a failed Send was reused")
	}
}

// Only the Data itself passes to the package: a sub-slice or a copy sent
// instead leaves the Data with the receiver.
func TestSendOfSubsliceKeepsData(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.LengthPrefixed(0)}})
	c := dialRaw(t, addr)
	var kept [][]byte
	for seq := range 16 {
		writeLen32(t, c, bigPayload(seq))
		m := recv(t, srv.Messages(), "message")
		kept = append(kept, m.Data)
		part := m.Data[:len(m.Data)-1]
		if seq%2 == 1 {
			part = m.Data[1:]
		}
		if err := m.Conn.Send(part); err != nil {
			t.Fatal(err)
		}
		if got := readLen32(t, c); !bytes.Equal(got, part) {
			t.Fatalf("echo %d differs", seq)
		}
	}
	for seq, d := range kept {
		if !bytes.Equal(d, bigPayload(seq)) {
			t.Fatalf("Data %d changed although only a part of it was sent", seq)
		}
	}
}

// Release is the explicit way to give a large Data's memory back: a later
// large message reuses it, every echo stays exact, and releasing twice (or
// a copy of the Message) does not hand the same memory out twice.
func TestReleaseReusesLargeBuffers(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.LengthPrefixed(0)}})
	c := dialRaw(t, addr)
	seen := map[uintptr]bool{}
	reused := 0
	var held [][]byte // Data of messages not released: must never change
	for seq := range 64 {
		want := bigPayload(seq)
		writeLen32(t, c, want)
		m := recv(t, srv.Messages(), "message")
		if !bytes.Equal(m.Data, want) {
			t.Fatalf("frame %d arrived changed", seq)
		}
		if seen[dataAddr(m.Data)] {
			reused++
		}
		seen[dataAddr(m.Data)] = true
		if err := m.Conn.Send(m.Data); err != nil {
			t.Fatal(err)
		}
		if seq%8 == 7 {
			held = append(held, m.Data)
		} else {
			cp := m
			m.Release()
			cp.Release() // a second release of the same buffer does nothing
			m.Release()
		}
		if got := readLen32(t, c); !bytes.Equal(got, want) {
			t.Fatalf("echo %d differs", seq)
		}
	}
	for i, d := range held {
		if !bytes.Equal(d, bigPayload(8*i+7)) {
			t.Fatalf("a Data that was not released changed (frame %d)", 8*i+7)
		}
	}
	// sync.Pool may drop buffers (at random under -race, and at a GC), so
	// not every buffer comes back, but some must.
	if reused < 8 {
		t.Fatalf("only %d of 64 large messages reused a released buffer", reused)
	}
}

// Small messages are copied into blocks of up to 32 (one per read); a block
// of 256 bytes or more comes back to the package once every message in it
// has been released, and not before: a later read's messages reuse it,
// every echo stays exact, a message kept while the others of its block are
// released never changes, and releasing twice (or a copy) does nothing.
func TestReleaseReusesSmallBlocks(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.LengthPrefixed(0)}})
	c := dialRaw(t, addr)
	payload := func(round, i int) []byte {
		return bytes.Repeat([]byte{byte('a' + (round*4+i)%26)}, 300)
	}
	seen := map[uintptr]bool{}
	reused := 0
	type kept struct {
		data, want []byte
	}
	var held []kept
	for round := range 64 {
		var batch []byte // four frames in one write: most often one read, one block
		for i := range 4 {
			var hdr [4]byte
			binary.BigEndian.PutUint32(hdr[:], 300)
			batch = append(append(batch, hdr[:]...), payload(round, i)...)
		}
		if _, err := c.Write(batch); err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			m := recv(t, srv.Messages(), "message")
			if want := payload(round, i); !bytes.Equal(m.Data, want) {
				t.Fatalf("round %d frame %d arrived changed", round, i)
			}
			if seen[dataAddr(m.Data)] {
				reused++
			}
			seen[dataAddr(m.Data)] = true
			switch {
			case round%8 == 7, round%8 == 3 && i == 2: // all of a block kept; one of a block kept
				held = append(held, kept{m.Data, payload(round, i)})
			default:
				cp := m
				m.Release()
				cp.Release()
			}
		}
	}
	for _, k := range held {
		if !bytes.Equal(k.data, k.want) {
			t.Fatalf("a Data that was not released changed: %q...", k.data[:8])
		}
	}
	// sync.Pool may drop buffers (at random under -race, and at a GC).
	if reused < 8 {
		t.Fatalf("only %d of 256 small messages reused a released block", reused)
	}
}

// Release of a message smaller than a pooled block, alone in its read, is
// a no-op: its Data stays intact.
func TestReleaseSmallMessageNoop(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.LengthPrefixed(0)}})
	c := dialRaw(t, addr)
	writeLen32(t, c, []byte("small"))
	m := recv(t, srv.Messages(), "message")
	m.Release()
	if string(m.Data) != "small" {
		t.Fatalf("Data after Release of a small message: %q", m.Data)
	}
}
