package simplesockets_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// checkSplit runs a framing's Split over data like the reader does and checks
// the invariants every framing must keep: advance within the data, frames
// inside the consumed bytes, re-encoding the frames gives the consumed bytes
// back, and the only errors are the documented ones.
func checkSplit(t *testing.T, f ss.Framing, data []byte) {
	rest := data
	var again []byte
	for len(rest) > 0 {
		adv, frame, err := f.Split(rest)
		if err != nil {
			if !errors.Is(err, ss.ErrMessageTooLarge) && !errors.Is(err, ss.ErrInvalidMessage) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		if adv == 0 {
			if len(rest) >= f.MaxFrameSize() {
				t.Fatalf("waits for more with %d bytes buffered, limit %d", len(rest), f.MaxFrameSize())
			}
			break
		}
		if adv < 0 || adv > len(rest) || len(frame) > adv {
			t.Fatalf("advance %d, frame %d, of %d bytes", adv, len(frame), len(rest))
		}
		if again, err = f.AppendFrame(again, frame); err != nil {
			t.Fatalf("cannot re-encode a frame it decoded: %v", err)
		}
		rest = rest[adv:]
	}
	if consumed := data[:len(data)-len(rest)]; !bytes.Equal(again, consumed) {
		t.Fatalf("re-encoded %q, consumed %q", again, consumed)
	}
}

func FuzzSplitLengthPrefixed(f *testing.F) {
	f.Add([]byte{0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 1, 0, 'x'})
	fr := ss.LengthPrefixed(1000)
	f.Fuzz(func(t *testing.T, data []byte) { checkSplit(t, fr, data) })
}

func FuzzSplitLines(f *testing.F) {
	f.Add([]byte("hello\nworld\n\npartial"))
	f.Add(bytes.Repeat([]byte("x"), 300))
	fr := ss.Lines(256)
	f.Fuzz(func(t *testing.T, data []byte) { checkSplit(t, fr, data) })
}

func FuzzSplitRaw(f *testing.F) {
	f.Add([]byte("anything at all"))
	fr := ss.Raw()
	f.Fuzz(func(t *testing.T, data []byte) {
		adv, frame, err := fr.Split(data)
		if err != nil || adv != len(data) || !bytes.Equal(frame, data) {
			t.Fatalf("raw split: %d %q %v", adv, frame, err)
		}
	})
}

// refDecode is a plain reference decoder of len32 frames with limit max.
func refDecode(data []byte, max int) (frames [][]byte, tooLarge bool, rest int) {
	for len(data) >= 4 {
		n := int(binary.BigEndian.Uint32(data))
		if n > max {
			return frames, true, len(data)
		}
		if len(data) < 4+n {
			break
		}
		frames = append(frames, data[4:4+n])
		data = data[4+n:]
	}
	return frames, false, len(data)
}

// FuzzServerInput sends arbitrary bytes, in arbitrary pieces, to a real
// server and checks what it makes of them against the reference decoder:
// the same frames in the same order, and the right Disconnect reason.
func FuzzServerInput(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, 'h', 'i', 0, 0, 0, 1, '!'}, uint8(3))
	f.Add([]byte{0, 0, 0, 200, 1, 2, 3}, uint8(1))
	f.Add([]byte{0, 0, 0, 5, 'a'}, uint8(0))
	const max = 100
	srv, addr := startServer(f, ss.ServerConfig{Options: ss.Options{Framing: ss.LengthPrefixed(max), ReadBufferSize: 16, MessageBuffer: 4096}})
	conns, discs, msgs := srv.Connects(), srv.Disconnects(), srv.Messages()
	f.Fuzz(func(t *testing.T, data []byte, piece uint8) {
		if len(data) > 4000 {
			return
		}
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c := recv(t, conns, "connect")
		step := int(piece)%32 + 1
		for p := data; len(p) > 0; {
			k := min(step, len(p))
			if _, err := nc.Write(p[:k]); err != nil {
				break // the server may have hung up on an oversize frame
			}
			p = p[k:]
		}
		nc.(*net.TCPConn).CloseWrite()
		// The connection's messages, then its Disconnect (ordered delivery).
		var got [][]byte
		var d ss.Disconnect
		timeout := time.After(wait)
	loop:
		for {
			select {
			case m := <-msgs:
				if m.Conn != c {
					t.Fatal("message of another connection")
				}
				got = append(got, m.Data)
			case d = <-discs:
				break loop
			case <-timeout:
				t.Fatal("no disconnect")
			}
		}
		nc.Close()
		if d.Conn != c {
			t.Fatal("disconnect of another connection")
		}
		if len(msgs) > 0 {
			t.Fatal("a message after the Disconnect")
		}
		want, tooLarge, rest := refDecode(data, max)
		if len(got) != len(want) {
			t.Fatalf("%d frames, want %d", len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("frame %d: %q, want %q", i, got[i], want[i])
			}
		}
		switch {
		case tooLarge:
			if !errors.Is(d.Err, ss.ErrMessageTooLarge) {
				t.Fatalf("reason %v, want ErrMessageTooLarge", d.Err)
			}
		case !errors.Is(d.Err, io.EOF):
			t.Fatalf("reason %v, want io.EOF", d.Err)
		case rest > 0 && !errors.Is(d.Err, errUnexpectedEOF):
			t.Fatalf("reason %v, want io.ErrUnexpectedEOF with %d bytes left", d.Err, rest)
		}
		for len(srv.Errors()) > 0 {
			<-srv.Errors()
		}
	})
}

// FuzzClientServerEcho sends payloads cut from the input through a Client,
// a Server that echoes, and back, in each framing that can carry them.
func FuzzClientServerEcho(f *testing.F) {
	f.Add([]byte("hello|world||x"))
	f.Add(bytes.Repeat([]byte("ab|"), 500))
	opts := ss.Options{Framing: ss.LengthPrefixed(0), ReadBufferSize: 32}
	srv, addr := startServer(f, ss.ServerConfig{Options: opts})
	go func() {
		for m := range srv.Messages() {
			m.Conn.Send(m.Data)
		}
	}()
	cli, err := ss.Dial(context.Background(), ss.ClientConfig{Addr: addr, Options: opts})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { cli.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		payloads := bytes.Split(data, []byte("|"))
		for _, p := range payloads {
			if err := cli.Send(p); err != nil {
				t.Fatal(err)
			}
		}
		timeout := time.After(wait)
		for i, p := range payloads {
			select {
			case m := <-cli.Messages():
				if !bytes.Equal(m.Data, p) {
					t.Fatalf("echo %d: %q, want %q", i, m.Data, p)
				}
			case <-timeout:
				t.Fatalf("echo %d of %d missing", i, len(payloads))
			}
		}
	})
}
