// Command kv-server is a binary key-value server on the request/response
// layer (simplesockets/rpc): GET, SET and DEL of values up to 1 MiB.
//
//	kv-server -addr 127.0.0.1:7000
//
// A request is an op byte ('S', 'G' or 'D'), a key length byte, the key,
// and for SET the value. SET and DEL reply with nothing, GET with the value;
// a GET of a missing key fails with "not found". It stops gracefully on
// SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
	"github.com/simplesockets/simplesockets-go/simplesockets/rpc"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "address to listen on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, *addr, func(a string) { fmt.Println("kv-server: listening on", a) }); err != nil {
		fmt.Fprintln(os.Stderr, "kv-server:", err)
		os.Exit(1)
	}
}

// serve runs the server on addr until ctx ends; ready gets the address.
func serve(ctx context.Context, addr string, ready func(string)) error {
	srv, err := ss.NewServer(ss.ServerConfig{Addr: addr, Options: ss.Options{Framing: ss.LengthPrefixed(2 << 20)}})
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	ready(srv.Addr().String())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()

	store := map[string][]byte{} // only this loop touches it
	for m := range srv.Messages() {
		req, err := rpc.Decode(m)
		if err != nil || req.ID == 0 || len(req.Data) < 2 || len(req.Data) < 2+int(req.Data[1]) {
			m.Conn.Close() // not our protocol
			continue
		}
		key, value := string(req.Data[2:2+req.Data[1]]), req.Data[2+req.Data[1]:]
		switch req.Data[0] {
		case 'S':
			store[key] = value // Data is ours: no copy needed
			req.Reply(nil)
		case 'G':
			if v, ok := store[key]; ok {
				req.Reply(v)
			} else {
				req.Fail("not found")
			}
		case 'D':
			delete(store, key)
			req.Reply(nil)
		default:
			req.Fail("unknown op")
		}
	}
	if err := <-served; !errors.Is(err, ss.ErrServerClosed) {
		return err
	}
	return nil
}
