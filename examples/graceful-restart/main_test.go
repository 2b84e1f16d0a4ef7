//go:build unix

package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Three restarts under a client loop that keeps opening connections: no
// connect is refused or reset, and every connection that the drain did not
// close gets its echo.
func TestRestartsDropNoOne(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	bin := filepath.Join(t.TempDir(), "graceful-restart")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-grace", "2s")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		for sc := bufio.NewScanner(stdout); sc.Scan(); {
			lines <- sc.Text()
		}
	}()
	next := func(prefix string) string {
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("output ended waiting for %q", prefix)
				}
				if strings.HasPrefix(l, prefix) {
					return l
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("no %q within 20s", prefix)
			}
		}
	}
	parse := func(l string) (pid int, addr string) { // "pid N listening on ADDR"
		f := strings.Fields(l)
		pid, err := atoiPid(f[1])
		if err != nil || len(f) < 5 {
			t.Fatalf("%q: %v", l, err)
		}
		return pid, f[4]
	}
	pid, addr := parse(next("pid "))
	t.Cleanup(func() { // the current process, if the test stops early, and the first one
		syscall.Kill(pid, syscall.SIGKILL)
		cmd.Process.Kill()
		cmd.Wait()
	})

	var conns, refused, drained, lost atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					refused.Add(1)
					continue
				}
				conns.Add(1)
				c.SetDeadline(time.Now().Add(5 * time.Second))
				c.Write([]byte("ping\n"))
				buf := make([]byte, 5)
				_, err = io.ReadFull(c, buf)
				c.Close()
				switch {
				case err == nil && string(buf) == "ping\n":
				case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
					drained.Add(1) // closed by the drain before its line was read
				default:
					lost.Add(1)
				}
			}
		})
	}
	start := time.Now()
	time.Sleep(300 * time.Millisecond) // traffic before the first restart (the scenario, not a synchronization)
	for range 3 {
		old := pid
		syscall.Kill(old, syscall.SIGHUP)
		var same string
		if pid, same = parse(next("pid ")); same != addr { // the successor is listening
			t.Fatalf("the successor listens on %s, not %s", same, addr)
		}
		next("pid " + itoa(old) + " stopped")
		time.Sleep(300 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)
	syscall.Kill(pid, syscall.SIGTERM)
	next("pid " + itoa(pid) + " stopped")
	rate := float64(conns.Load()) / elapsed.Seconds()
	t.Logf("%d connections in %v (%.0f/s): %d refused, %d closed by a drain, %d lost", conns.Load(), elapsed.Round(time.Millisecond), rate, refused.Load(), drained.Load(), lost.Load())
	if refused.Load() != 0 || lost.Load() != 0 {
		t.Fatalf("%d connects refused, %d echoes lost", refused.Load(), lost.Load())
	}
	if rate < 1000 {
		t.Errorf("%.0f connections per second: the scenario needs at least 1000", rate)
	}
}

func atoiPid(s string) (int, error) { return strconv.Atoi(s) }

func itoa(n int) string { return strconv.Itoa(n) }
