package simplesockets_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

func TestEchoFramings(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320000 bytes
	tests := []struct {
		name    string
		framing ss.Framing
		msgs    [][]byte
	}{
		{"len32", ss.LengthPrefixed(0), [][]byte{[]byte("a"), {}, []byte("hello"), big}},
		{"lines", ss.Lines(0), [][]byte{[]byte("a"), {}, []byte("hello world")}},
		{"delim0", ss.Delimited(0, 16), [][]byte{[]byte("x"), []byte("0123456789abcdef")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := ss.Options{Framing: tt.framing}
			srv, addr := startServer(t, ss.ServerConfig{Options: opts})
			go func() {
				for m := range srv.Messages() {
					m.Conn.Send(m.Data)
				}
			}()
			cli, err := ss.Dial(context.Background(), ss.ClientConfig{Addr: addr, Options: opts})
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			for _, m := range tt.msgs {
				if err := cli.Send(m); err != nil {
					t.Fatal(err)
				}
			}
			for i, want := range tt.msgs {
				got := recv(t, cli.Messages(), "echo")
				if !bytes.Equal(got.Data, want) {
					t.Fatalf("message %d: got %d bytes, want %d", i, len(got.Data), len(want))
				}
			}
		})
	}
}

func TestOversizeLengthPrefixDisconnects(t *testing.T) {
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.LengthPrefixed(1024)}})
	nc := dialRaw(t, addr)
	c := recv(t, srv.Connects(), "connect")
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], 0xFFFFFFFF) // 4 GiB - 1
	nc.Write(hdr[:])
	d := recv(t, srv.Disconnects(), "disconnect")
	if d.Conn != c || !errors.Is(d.Err, ss.ErrMessageTooLarge) {
		t.Fatalf("disconnect %v: %v", d.Conn, d.Err)
	}
	if n := len(srv.Errors()); n != 0 {
		t.Fatalf("%d errors on Errors: a failure is reported once, on Disconnects", n)
	}
	// The server closed the socket.
	if _, err := io.ReadAll(nc); err != nil && !errors.Is(err, io.EOF) {
		t.Logf("read after close: %v", err)
	}
}
