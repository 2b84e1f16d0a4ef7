//go:build unix

// Command graceful-restart is a line echo server that restarts without
// dropping anyone: on SIGHUP it starts a new copy of itself that inherits
// the listening socket (simplesockets/activation), waits until the new
// process says it is ready, then stops accepting, drains its own
// connections (for at most -grace) and exits. The socket never stops
// listening, so no connection is refused. SIGINT or SIGTERM stop it
// gracefully.
//
//	graceful-restart -addr 127.0.0.1:9997
//	kill -HUP <pid>   # prints the new process's "pid N listening on ADDR"
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
	"github.com/simplesockets/simplesockets-go/simplesockets/activation"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "graceful-restart: pid %d: %v\n", os.Getpid(), err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:9997", "address to listen on (unless a listener is inherited)")
	grace := flag.Duration("grace", 5*time.Second, "how long a stopping process drains its connections")
	flag.Parse()

	ln, err := listener(*addr)
	if err != nil {
		return err
	}
	srv, err := ss.NewServer(ss.ServerConfig{Options: ss.Options{Framing: ss.Lines(0)}})
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln) }()
	go func() { // the echo loop; it ends when the server has stopped
		for m := range srv.Messages() {
			m.Conn.Send(m.Data)
		}
	}()
	fmt.Printf("pid %d listening on %s\n", os.Getpid(), ln.Addr())
	if err := tellParent(); err != nil {
		return err
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			if err := startSuccessor(ln); err != nil {
				fmt.Fprintf(os.Stderr, "graceful-restart: pid %d: no restart: %v\n", os.Getpid(), err)
				continue // keep serving
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), *grace)
		_ = srv.Shutdown(ctx) // stop accepting (the successor does), drain, close; at the deadline, at once
		cancel()
		if err := <-served; !errors.Is(err, ss.ErrServerClosed) {
			return err
		}
		fmt.Printf("pid %d stopped (%v)\n", os.Getpid(), sig)
		return nil
	}
	return nil
}

// listener returns the inherited listening socket, or a new one on addr.
func listener(addr string) (net.Listener, error) {
	lns, err := activation.Listeners()
	switch {
	case errors.Is(err, activation.ErrNone):
		return net.Listen("tcp", addr)
	case err != nil:
		return nil, err
	case len(lns) != 1:
		return nil, fmt.Errorf("inherited %d listeners, want 1", len(lns))
	}
	return lns[0].Listener, nil
}

// startSuccessor starts this program again with ln and a pipe on which the
// new process says it is ready, and waits for that (10s at most).
func startSuccessor(ln net.Listener) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := activation.Pass(cmd, []net.Listener{ln}); err != nil {
		w.Close()
		return err
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, w) // descriptor 3+len(listeners) = 4
	cmd.Env = append(cmd.Env, "READY_FD=4")
	err = cmd.Start()
	for _, f := range cmd.ExtraFiles {
		f.Close() // the child has its own copies
	}
	if err != nil {
		return err
	}
	go cmd.Wait() // (reaps it if it dies; a successful successor outlives us)
	r.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.Read(make([]byte, 1)); err != nil {
		cmd.Process.Kill()
		return fmt.Errorf("successor pid %d not ready: %w", cmd.Process.Pid, err)
	}
	return nil
}

// tellParent says "ready" on the descriptor named by READY_FD, if any.
func tellParent() error {
	v := os.Getenv("READY_FD")
	if v == "" {
		return nil
	}
	os.Unsetenv("READY_FD")
	fd, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("bad READY_FD %q", v)
	}
	f := os.NewFile(uintptr(fd), "ready")
	defer f.Close()
	_, err = f.Write([]byte{1})
	return err
}
