package main

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type counts struct{ Requests, OK, Errors int64 }

// build compiles the kv-server and kv-client commands into a temp dir.
func build(t *testing.T) (server, client string) {
	if testing.Short() {
		t.Skip("builds and runs the commands")
	}
	dir := t.TempDir()
	for _, cmd := range []string{"kv-server", "kv-client"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, cmd), "../"+cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("build %s: %v\n%s", cmd, err, out)
		}
	}
	return filepath.Join(dir, "kv-server"), filepath.Join(dir, "kv-client")
}

// startServer runs kv-server on a free port and returns it and its address.
func startServer(t *testing.T, bin string) (*exec.Cmd, string) {
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return cmd, strings.TrimSpace(strings.TrimPrefix(line, "kv-server: listening on"))
}

func runClient(t *testing.T, bin string, args ...string) (counts, error) {
	out, err := exec.Command(bin, args...).Output()
	var c counts
	if jerr := json.Unmarshal(out, &c); jerr != nil {
		t.Fatalf("kv-client printed %q (%v): %v", out, err, jerr)
	}
	return c, err
}

// Every reply matches: exit 0 and the counts; SIGTERM stops the server
// cleanly (exit 0).
func TestClientAgainstServer(t *testing.T) {
	server, client := build(t)
	srv, addr := startServer(t, server)
	c, err := runClient(t, client, "-addr", addr, "-c", "4", "-n", "200", "-size", "1024")
	if err != nil || c != (counts{1600, 1600, 0}) {
		t.Fatalf("kv-client: %+v, %v", c, err)
	}
	srv.Process.Signal(syscall.SIGTERM)
	if err := srv.Wait(); err != nil {
		t.Fatalf("kv-server after SIGTERM: %v", err)
	}
}

// The server going away in the middle of a run: the client ends within 2s
// of it, non-zero, with the failures counted.
func TestClientWhenServerDies(t *testing.T) {
	server, client := build(t)
	srv, addr := startServer(t, server)
	done := make(chan struct{})
	var c counts
	var err error
	go func() {
		defer close(done)
		c, err = runClient(t, client, "-addr", addr, "-c", "8", "-n", "1000000", "-size", "256")
	}()
	time.Sleep(500 * time.Millisecond) // let it run a while: the scenario, not a synchronization
	srv.Process.Kill()
	killed := time.Now()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("kv-client still running 10s after the server died")
	}
	if d := time.Since(killed); d > 2*time.Second {
		t.Errorf("kv-client ended %v after the server died, want within 2s", d)
	}
	if err == nil || c.Errors == 0 || c.OK+c.Errors != c.Requests {
		t.Fatalf("kv-client: %+v, %v; want a failure with the errors counted", c, err)
	}
}
