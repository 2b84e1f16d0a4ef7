package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(cleanup{m}) }

// cleanup removes the binaries once every test has run.
type cleanup struct{ m *testing.M }

func (c cleanup) Run() int {
	code := c.m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	return code
}

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// binaries builds echo-server and echo-client once for all tests and
// returns their paths.
func binaries(t *testing.T) (server, client string) {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "echo-server-test"); binErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", binDir+string(filepath.Separator),
			"github.com/simplesockets/simplesockets-go/examples/echo-server",
			"github.com/simplesockets/simplesockets-go/examples/echo-client").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "echo-server"), filepath.Join(binDir, "echo-client")
}

// pyClient is a non-Go peer: it speaks each framing with python3's socket
// module, sends messages of several sizes and checks every echo.
const pyClient = `
import socket, struct, sys
host, port, framing = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection((host, port), timeout=10)
def recv_exact(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c: raise SystemExit("closed early")
        b += c
    return b
ok = 0
for i, size in enumerate([1, 10, 2047, 2048, 2049, 5000, 65000]):
    p = bytes((97 + (i + j) % 26) for j in range(size))
    if framing == "len32":
        s.sendall(struct.pack(">I", size) + p)
        n = struct.unpack(">I", recv_exact(4))[0]
        got = recv_exact(n)
    elif framing == "line":
        s.sendall(p + b"\n")
        got = recv_exact(size + 1)[:-1]
    else:
        s.sendall(p)
        got = recv_exact(size)
    ok += got == p
s.close()
print(ok)
`

// startServer runs the echo-server binary and returns its address.
func startServer(t *testing.T, bin string, args ...string) (addr string, stop func() error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case line := <-lines:
		// "echo-server: listening on 127.0.0.1:PORT (tcp, framing raw)"
		f := strings.Fields(line)
		if len(f) < 4 || f[1] != "listening" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("unexpected first line %q", line)
		}
		addr = f[3]
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("echo-server printed nothing")
	}
	return addr, func() error {
		sig := os.Signal(syscall.SIGTERM)
		if hardStop {
			sig = os.Kill
		}
		cmd.Process.Signal(sig)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Error("echo-server did not exit within 10s of SIGTERM")
			return nil
		}
	}
}

// hardStop makes the next stop a SIGKILL (used by killHard).
var hardStop bool

// killHard stops the server with SIGKILL, so it cannot clean up.
func killHard(t *testing.T, stop func() error) {
	t.Helper()
	hardStop = true
	defer func() { hardStop = false }()
	stop()
}

func TestEchoServerInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	server, client := binaries(t)
	python, pyErr := exec.LookPath("python3")
	for _, framing := range []string{"raw", "len32", "line"} {
		t.Run(framing, func(t *testing.T) {
			addr, stop := startServer(t, server, "-addr", "127.0.0.1:0", "-framing", framing)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, client, "-addr", addr, "-framing", framing, "-n", "50", "-size", "3000").Output()
			if err != nil {
				t.Errorf("echo-client: %v (%s)", err, out)
			}
			var res struct{ Sent, OK, Errors int }
			if err := json.Unmarshal(bytes.TrimSpace(out), &res); err != nil || res.Sent != 50 || res.OK != 50 || res.Errors != 0 {
				t.Errorf("echo-client printed %q (%v)", out, err)
			}
			if pyErr != nil {
				t.Log("python3 not found: skipping the non-Go peer")
			} else {
				host, port, _ := strings.Cut(addr, ":")
				out, err := exec.CommandContext(ctx, python, "-c", pyClient, host, port, framing).CombinedOutput()
				if err != nil || strings.TrimSpace(string(out)) != "7" {
					t.Errorf("python3 peer: %v: %s", err, out)
				}
			}
			if err := stop(); err != nil {
				t.Errorf("echo-server exit: %v", err)
			}
		})
	}
}

// -network unix: the same contract on a Unix socket, including a stale
// socket file left behind by a killed server.
func TestEchoServerUnix(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	server, client := binaries(t)
	sock := filepath.Join(t.TempDir(), "echo.sock")
	for round := range 2 {
		addr, stop := startServer(t, server, "-network", "unix", "-addr", sock, "-framing", "len32")
		if addr != sock {
			t.Fatalf("listening on %q, want %q", addr, sock)
		}
		out, err := exec.Command(client, "-network", "unix", "-addr", sock, "-framing", "len32", "-n", "20", "-size", "100").Output()
		if err != nil || !strings.Contains(string(out), `"ok":20`) {
			t.Fatalf("round %d: echo-client: %v %s", round, err, out)
		}
		if round == 0 {
			// Leave the socket file behind, as a crash would.
			killHard(t, stop)
		} else if err := stop(); err != nil {
			t.Fatalf("exit: %v", err)
		}
	}
}

// The robustness flags: -tls (with echo-client -tls), -max-message, -max-conns
// and -idle-timeout are accepted, and -tls really serves TLS.
func TestEchoServerFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	server, clientBin := binaries(t)
	addr, stop := startServer(t, server, "-addr", "127.0.0.1:0", "-framing", "len32",
		"-tls", "-max-message", "1000", "-max-conns", "4", "-idle-timeout", "5s")
	client := func(args ...string) (string, error) {
		out, err := exec.Command(clientBin, append([]string{"-addr", addr, "-framing", "len32"}, args...)...).Output()
		return string(out), err
	}
	if out, err := client("-tls", "-n", "10", "-size", "1000"); err != nil || !strings.Contains(out, `"ok":10`) {
		t.Errorf("TLS echo: %v %s", err, out)
	}
	if out, err := client("-timeout", "1s", "-n", "1", "-size", "10"); err == nil {
		t.Errorf("plain client accepted by a TLS server: %s", out)
	}
	if out, err := client("-timeout", "1s", "-tls", "-n", "1", "-size", "1001"); err == nil {
		t.Errorf("message over -max-message echoed: %s", out)
	}
	if err := stop(); err != nil {
		t.Errorf("exit: %v", err)
	}
}
