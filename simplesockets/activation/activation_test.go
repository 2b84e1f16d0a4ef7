//go:build unix

package activation_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/simplesockets/simplesockets-go/simplesockets/activation"
)

// child runs in the re-executed test binary: it takes the inherited
// listeners and answers one connection on each with its name.
func child() {
	lns, err := activation.Listeners()
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	if os.Getenv("LISTEN_FDS") != "" {
		fmt.Println("error: LISTEN_FDS still set")
		os.Exit(1)
	}
	fmt.Println("ready", len(lns))
	for _, ln := range lns {
		c, err := ln.Accept()
		if err != nil {
			os.Exit(1)
		}
		fmt.Fprintf(c, "%s\n", ln.Name)
		c.Close()
		ln.Close()
	}
	os.Exit(0)
}

// A parent passes a TCP and a Unix listener to a child, closes its own, and
// the child accepts on both: the sockets never stopped listening.
func TestPassToChild(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "s.sock")
	unix, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	unix.(*net.UnixListener).SetUnlinkOnClose(false)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ACTIVATION_TEST_CHILD=1")
	if err := activation.Pass(cmd, []net.Listener{tcp, unix}, "web", "admin"); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for _, f := range cmd.ExtraFiles {
		f.Close()
	}
	tcp.Close() // the parent's copies go; the child's keep listening
	unix.Close()
	r := bufio.NewReader(out)
	if line, _ := r.ReadString('\n'); line != "ready 2\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child said %q", line)
	}
	for _, dial := range []struct{ network, addr, want string }{
		{"tcp", tcp.Addr().String(), "web\n"},
		{"unix", path, "admin\n"},
	} {
		c, err := net.DialTimeout(dial.network, dial.addr, 10*time.Second)
		if err != nil {
			t.Fatalf("dial %s after the parent closed its listener: %v", dial.network, err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		got, _ := io.ReadAll(c)
		c.Close()
		if string(got) != dial.want {
			t.Fatalf("%s: child answered %q, want %q", dial.network, got, dial.want)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestListenersEnv(t *testing.T) {
	t.Setenv("LISTEN_FDS", "")
	os.Unsetenv("LISTEN_FDS")
	if _, err := activation.Listeners(); !errors.Is(err, activation.ErrNone) {
		t.Fatalf("without LISTEN_FDS: %v", err)
	}
	t.Setenv("LISTEN_FDS", "1")
	t.Setenv("LISTEN_PID", "1") // not us
	if _, err := activation.Listeners(); err == nil || !strings.Contains(err.Error(), "LISTEN_PID") {
		t.Fatalf("another process's LISTEN_PID: %v", err)
	}
	if _, ok := os.LookupEnv("LISTEN_FDS"); ok {
		t.Fatal("LISTEN_FDS not unset")
	}
	t.Setenv("LISTEN_FDS", "x")
	if _, err := activation.Listeners(); err == nil {
		t.Fatal("bad LISTEN_FDS accepted")
	}
}

// Pass takes an inherited Listener as it is (passing it on again), and
// closes the descriptors it has made when a later listener cannot be
// passed.
func TestPassUnwrapsAndCleansUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd := exec.Command("true")
	if err := activation.Pass(cmd, []net.Listener{activation.Listener{Listener: ln, Name: "web"}}); err != nil || len(cmd.ExtraFiles) != 1 {
		t.Fatalf("Pass of an inherited Listener: %v, %d files", err, len(cmd.ExtraFiles))
	}
	for _, f := range cmd.ExtraFiles {
		f.Close()
	}
	openFDs := func() int {
		ents, err := os.ReadDir("/dev/fd")
		if err != nil {
			t.Skip("no /dev/fd:", err)
		}
		return len(ents)
	}
	before := openFDs()
	hidden := struct{ net.Listener }{ln} // no File method
	if err := activation.Pass(exec.Command("true"), []net.Listener{ln, hidden}); err == nil {
		t.Fatal("Pass of a listener without File succeeded")
	}
	if after := openFDs(); after != before {
		t.Fatalf("%d descriptors open after the failed Pass, %d before", after, before)
	}
}
