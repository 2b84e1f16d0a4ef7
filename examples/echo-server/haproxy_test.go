package main_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// instance is an echo-server process whose stdout is kept.
type instance struct {
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	out  []string
	done chan struct{}
}

func startInstance(t *testing.T, bin string, args ...string) *instance {
	t.Helper()
	in := &instance{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	in.cmd.Stderr = os.Stderr
	stdout, err := in.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make(chan string, 1)
	go func() {
		defer close(in.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			in.mu.Lock()
			if len(in.out) == 0 {
				first <- sc.Text()
			}
			in.out = append(in.out, sc.Text())
			in.mu.Unlock()
		}
	}()
	t.Cleanup(func() { in.cmd.Process.Kill(); in.cmd.Wait() })
	select {
	case l := <-first: // "echo-server: listening on ADDR (...)"
		in.addr = strings.Fields(l)[3]
	case <-time.After(20 * time.Second):
		t.Fatal("echo-server printed nothing")
	}
	return in
}

// stop sends SIGTERM (a graceful drain) and waits for the exit.
func (in *instance) stop(t *testing.T) {
	in.cmd.Process.Signal(syscall.SIGTERM)
	if err := in.cmd.Wait(); err != nil {
		t.Fatalf("echo-server after SIGTERM: %v", err)
	}
	<-in.done
}

func (in *instance) lines() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return strings.Join(in.out, "\n")
}

// freePort returns a port on 127.0.0.1 free a moment ago.
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// echoOnce connects to addr from the local address src, sends a line and
// reads its echo; it returns an error if any of that fails.
func echoOnce(src, addr, line string) error {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != line+"\n" {
		return fmt.Errorf("echo %q: %q %v", line, got, err)
	}
	return nil
}

// Two echo-server instances behind a real HAProxy that sends the PROXY
// protocol (v2, and a pass with v1): the servers see the clients' own
// addresses (127.0.0.2-4), a per-IP cap of 2 holds per client address,
// and a rolling restart under steady load fails no connection.
func TestBehindHAProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs haproxy")
	}
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("haproxy is not installed (.ci/run installs it)")
		}
		t.Skip("haproxy is not installed (apt-get install haproxy)")
	}
	server, _ := binaries(t)
	for _, mode := range []string{"send-proxy-v2", "send-proxy"} {
		t.Run(mode, func(t *testing.T) {
			args := []string{"-framing", "line", "-proxy-protocol", "-proxy-trust", "127.0.0.1/32",
				"-max-conns-per-ip", "2", "-drain-notice", "300ms", "-drain", "3s", "-v"}
			// Each instance has a health port that closes first when it
			// stops, so that HAProxy stops sending before the listener closes.
			healthA, healthB := freePort(t), freePort(t)
			a := startInstance(t, server, append([]string{"-addr", "127.0.0.1:0", "-health-addr", fmt.Sprintf("127.0.0.1:%d", healthA)}, args...)...)
			b := startInstance(t, server, append([]string{"-addr", "127.0.0.1:0", "-health-addr", fmt.Sprintf("127.0.0.1:%d", healthB)}, args...)...)
			front := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			check := "check inter 100ms fall 1 rise 1 port %d"
			cfg := fmt.Sprintf(`global
	maxconn 4096
defaults
	mode tcp
	timeout connect 1s
	timeout client 30s
	timeout server 30s
	retries 3
	option redispatch 1
frontend fe
	bind %s
	default_backend be
backend be
	balance roundrobin
	server a %s %s %s
	server b %s %s %s
`, front, a.addr, mode, fmt.Sprintf(check, healthA), b.addr, mode, fmt.Sprintf(check, healthB))
			dir := t.TempDir()
			cfgPath := filepath.Join(dir, "haproxy.cfg")
			if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			hp := exec.Command(haproxy, "-db", "-f", cfgPath) // in the foreground, never as a service
			hp.Stdout, hp.Stderr = io.Discard, io.Discard
			if err := hp.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { hp.Process.Kill(); hp.Wait() })
			recvUntil(t, "haproxy listening", func() bool { return echoOnce("127.0.0.1", front, "up") == nil })

			// Real addresses and per-IP caps: from each of three client
			// addresses, 4 connections held open (2 per instance, round
			// robin) all echo; a 5th from one of them is over its caps.
			var held []net.Conn
			for _, src := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
				for i := range 4 {
					d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
					c, err := d.Dial("tcp", front)
					if err != nil {
						t.Fatal(err)
					}
					held = append(held, c)
					line := fmt.Sprintf("%s #%d", src, i)
					c.SetDeadline(time.Now().Add(5 * time.Second))
					c.Write([]byte(line + "\n"))
					if got, err := bufio.NewReader(c).ReadString('\n'); err != nil || got != line+"\n" {
						t.Fatalf("%s: %q %v (with the balancer's address as the client's, the cap would refuse it)", line, got, err)
					}
				}
			}
			if err := echoOnce("127.0.0.2", front, "fifth"); err == nil {
				t.Fatal("a 5th connection from 127.0.0.2 was served: the per-IP cap did not hold")
			}
			for _, c := range held {
				c.Close()
			}
			for _, src := range []string{"127.0.0.2:", "127.0.0.3:", "127.0.0.4:"} {
				if !strings.Contains(a.lines()+b.lines(), "("+src) {
					t.Fatalf("no server saw a client at %s*:\n%s\n%s", src, a.lines(), b.lines())
				}
			}

			// A client with automatic reconnection, through HAProxy: when its
			// instance drains, it lands on another.
			cli, err := ss.Dial(context.Background(), ss.ClientConfig{Addr: front, Options: ss.Options{Framing: ss.Lines(0)},
				Reconnect: ss.ReconnectPolicy{Enabled: true, MinDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			msgs := cli.Messages()

			// Rolling restart under steady load: drain A and start it again
			// on the same address, then B.
			start := time.Now()
			var ok, failed atomic.Int64
			var firstErr atomic.Value
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for g := range 6 {
				wg.Go(func() {
					for i := 0; ; i++ {
						// A fresh client address for each connection (the cap counts a
						// closed connection until the server has seen it end).
						src := fmt.Sprintf("127.0.%d.%d", 1+g, 10+i%240)
						select {
						case <-stop:
							return
						default:
						}
						if err := echoOnce(src, front, fmt.Sprintf("load %d %d", g, i)); err != nil {
							failed.Add(1)
							firstErr.CompareAndSwap(nil, err)
						} else {
							ok.Add(1)
						}
					}
				})
			}
			for i, in := range []*instance{a, b} {
				t0 := time.Now()
				in.stop(t)
				t.Logf("%s: instance %c drained and exited in %v", mode, 'A'+i, time.Since(t0).Round(time.Millisecond))
				again := startInstance(t, server, append([]string{"-addr", in.addr, "-health-addr", fmt.Sprintf("127.0.0.1:%d", []int{healthA, healthB}[i])}, args...)...)
				recvUntil(t, "restarted instance serving", func() bool { return strings.Contains(again.lines(), "connected") })
			}
			close(stop)
			wg.Wait()
			n, el := ok.Load()+failed.Load(), time.Since(start)
			t.Logf("%s: %d connections through HAProxy during the rolling restart (%v, %.0f/s), %d failed", mode, n, el.Round(time.Millisecond), float64(n)/el.Seconds(), failed.Load())
			if failed.Load() != 0 || ok.Load() == 0 {
				t.Fatalf("%d of %d connections failed; first: %v", failed.Load(), ok.Load()+failed.Load(), firstErr.Load())
			}
			recvUntil(t, "the reconnecting client back on an instance", func() bool {
				c := cli.Conn()
				return cli.Stats().Reconnects >= 1 && c != nil && c.Context().Err() == nil
			})
			for len(msgs) > 0 {
				<-msgs
			}
			if err := cli.Send([]byte("after the restart")); err != nil {
				t.Fatal(err)
			}
			select {
			case m := <-msgs:
				if string(m.Data) != "after the restart" {
					t.Fatalf("reconnected client got %q", m.Data)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no echo for the reconnected client")
			}
		})
	}
}

// recvUntil polls cond until it holds, failing after 20s.
func recvUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s", what)
		}
	}
}
