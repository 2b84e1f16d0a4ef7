// Package pypeer runs a python3 script as a non-Go peer in tests: a
// subprocess that speaks to Go code over real sockets with Python's socket
// module. Tests that use it are skipped when python3 is not on PATH.
package pypeer

import (
	"bufio"
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Peer is a running python3 script.
type Peer struct {
	t      testing.TB
	cmd    *exec.Cmd
	cancel context.CancelFunc
	lines  chan string   // stdout, line by line; closed at EOF
	done   chan struct{} // closed when the process was waited for
	stderr bytes.Buffer
	err    error // Wait's result, valid after done
}

// Python returns the path of python3, skipping the test if there is none.
func Python(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not on PATH")
	}
	return p
}

// Start runs python3 -c script with args. The process is killed (if still
// running) and waited for when the test ends; timeout bounds its whole life.
func Start(t testing.TB, timeout time.Duration, script string, args ...string) *Peer {
	t.Helper()
	py := Python(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	cmd := exec.CommandContext(ctx, py, append([]string{"-c", script}, args...)...)
	p := &Peer{t: t, cmd: cmd, cancel: cancel, lines: make(chan string, 64), done: make(chan struct{})}
	cmd.Stderr = &p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cancel()
		for range p.lines {
		}
		<-p.done
	})
	return p
}

// Line returns the next line the script printed, failing the test if none
// comes within timeout or the script ended.
func (p *Peer) Line(timeout time.Duration) string {
	p.t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			<-p.done
			p.t.Fatalf("python3 ended without more output: %v\n%s", p.err, p.Stderr())
		}
		return l
	case <-time.After(timeout):
		p.t.Fatalf("python3 printed nothing within %v\n%s", timeout, p.Stderr())
	}
	return ""
}

// Wait waits for the script to end and returns the rest of its output and
// its exit error.
func (p *Peer) Wait() (string, error) {
	var b strings.Builder
	for l := range p.lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	<-p.done
	return b.String(), p.err
}

// Stderr returns what the script wrote to stderr so far (complete once it
// has ended).
func (p *Peer) Stderr() string {
	select {
	case <-p.done:
		return p.stderr.String()
	default:
		return "(still running)"
	}
}
