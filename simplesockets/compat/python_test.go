package compat_test

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simplesockets/simplesockets-go/internal/pypeer"
	ss "github.com/simplesockets/simplesockets-go/simplesockets"
	"github.com/simplesockets/simplesockets-go/simplesockets/compat"
)

// Payload sizes around and well past the 2048-byte receive buffer,
// including exact multiples (the Python package stalls on those).
var rawSizes = []int{1, 2047, 2048, 2049, 4096, 100000, 1 << 20}

// pyPayload builds the same bytes as the scripts' payload(n).
func pyPayload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((i*7 + n + i/251) % 256)
	}
	return b
}

const pyPayloadFunc = `
def payload(n):
    return bytes((i*7 + n + i//251) % 256 for i in range(n))
`

// A python3 socket client sends each payload to a compat Server, which
// echoes it with SendData; the client checks the echo byte for byte, and the
// server checks what it received.
const pyEchoClient = `
import hashlib, socket, sys
` + pyPayloadFunc + `
host, port, sizes = sys.argv[1], int(sys.argv[2]), [int(x) for x in sys.argv[3].split(",")]
s = socket.create_connection((host, port), timeout=20)
for n in sizes:
    data = payload(n)
    s.sendall(data)
    got = bytearray()
    while len(got) < n:
        chunk = s.recv(65536)
        if not chunk:
            print("eof after", len(got), "of", n, flush=True)
            sys.exit(1)
        got += chunk
    if bytes(got) != data:
        print("mismatch at size", n, flush=True)
        sys.exit(1)
    print("ok", n, hashlib.sha256(got).hexdigest(), flush=True)
s.close()
print("done", flush=True)
`

func TestRawEchoPythonClient(t *testing.T) {
	pypeer.Python(t)
	var (
		mu  sync.Mutex
		got []byte
	)
	var srv *compat.Server
	srv, addr := startServer(t, 0, compat.ServerSetup{
		OnReceive: func(conn *ss.Conn, _ string, data []byte) {
			mu.Lock()
			got = append(got, data...)
			mu.Unlock()
			srv.SendData(data, conn)
		},
	})
	host, port, _ := net.SplitHostPort(addr)
	var sizes []string
	var want []byte
	for _, n := range rawSizes {
		sizes = append(sizes, strconv.Itoa(n))
		want = append(want, pyPayload(n)...)
	}
	p := pypeer.Start(t, 60*time.Second, pyEchoClient, host, port, strings.Join(sizes, ","))
	for _, n := range rawSizes {
		line := p.Line(wait)
		if !strings.HasPrefix(line, fmt.Sprintf("ok %d ", n)) {
			t.Fatalf("python: %q (size %d)", line, n)
		}
	}
	if out, err := p.Wait(); err != nil || out != "done\n" {
		t.Fatalf("python: %q, %v\n%s", out, err, p.Stderr())
	}
	awaitKind(t, srv, compat.EventDisconnect) // the python client closed
	mu.Lock()
	defer mu.Unlock()
	if !bytes.Equal(got, want) {
		t.Fatalf("server received %d bytes, want %d (or they differ)", len(got), len(want))
	}
	if excs := srv.ReturnExceptions(false, false); len(excs) != 0 {
		t.Fatalf("exceptions: %v", excs)
	}
}

// A python3 socket server echoes; a compat Client sends each payload and
// reads the echo back through AwaitEvent.
const pyEchoServer = `
import socket, sys
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
ls.settimeout(20)
print(ls.getsockname()[1], flush=True)
c, _ = ls.accept()
c.settimeout(20)
total = 0
while True:
    b = c.recv(65536)
    if not b:
        break
    c.sendall(b)
    total += len(b)
c.close()
print("total", total, flush=True)
`

func TestRawEchoPythonServer(t *testing.T) {
	pypeer.Python(t)
	p := pypeer.Start(t, 60*time.Second, pyEchoServer)
	port := p.Line(wait)
	cli := newClient(t, net.JoinHostPort("127.0.0.1", port), compat.ClientSetup{})
	if err := cli.Connect(ctxWait(t)); err != nil {
		t.Fatal(err)
	}
	cli.AutoRecv()
	total := 0
	for _, n := range rawSizes {
		want := pyPayload(n)
		if err := cli.SendData(want); err != nil {
			t.Fatal(err)
		}
		var got []byte
		deadline := time.Now().Add(wait)
		for len(got) < n {
			ev, err := cli.AwaitEvent(time.Until(deadline))
			if err != nil {
				t.Fatalf("size %d: after %d bytes: %v", n, len(got), err)
			}
			if ev.Kind == compat.EventData {
				if len(ev.Data) > compat.DefaultRecvBuffer {
					t.Fatalf("item of %d bytes with a %d-byte buffer", len(ev.Data), compat.DefaultRecvBuffer)
				}
				got = append(got, ev.Data...)
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("size %d: echo differs (%d bytes)", n, len(got))
		}
		total += n
	}
	if err := cli.Disconnect(); err != nil {
		t.Fatal(err)
	}
	if line := p.Line(wait); line != "total "+strconv.Itoa(total) {
		t.Fatalf("python: %q, want total %d", line, total)
	}
	awaitKind(t, cli, compat.EventDisconnect)
}
