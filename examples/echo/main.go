// Command echo starts an echo server and a client in one program, exchanges
// a few messages, prints what happens and shuts down cleanly.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts := ss.Options{Framing: ss.LengthPrefixed(0)}

	srv, err := ss.NewServer(ss.ServerConfig{Addr: "127.0.0.1:0", Options: opts})
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	fmt.Println("server: listening on", srv.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()

	// The server's event loop: echo every message, report the rest. It
	// ends when the server closes its channels.
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		conns, discs, msgs, errs := srv.Connects(), srv.Disconnects(), srv.Messages(), srv.Errors()
		for conns != nil || discs != nil || msgs != nil || errs != nil {
			select {
			case c, ok := <-conns:
				if !ok {
					conns = nil
					continue
				}
				fmt.Printf("server: %s connected\n", c)
			case d, ok := <-discs:
				if !ok {
					discs = nil
					continue
				}
				fmt.Printf("server: %s disconnected: %v\n", d.Conn, d.Err)
			case m, ok := <-msgs:
				if !ok {
					msgs = nil
					continue
				}
				fmt.Printf("server: %s sent %q, echoing\n", m.Conn, m.Data)
				m.Conn.Send(m.Data)
			case err, ok := <-errs:
				if !ok {
					errs = nil
					continue
				}
				fmt.Println("server: error:", err)
			}
		}
	}()

	cli, err := ss.Dial(ctx, ss.ClientConfig{Addr: srv.Addr().String(), Options: opts})
	if err != nil {
		return err
	}
	for _, text := range []string{"hello", "simplesockets", "goodbye"} {
		if err := cli.Send([]byte(text)); err != nil {
			return err
		}
		select {
		case m := <-cli.Messages():
			fmt.Printf("client: got %q back\n", m.Data)
		case <-ctx.Done():
			return fmt.Errorf("no echo of %q: %w", text, ctx.Err())
		}
	}
	cli.Close()

	sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, ss.ErrServerClosed) {
		return err
	}
	<-loopDone
	fmt.Println("server: shut down")
	return nil
}
