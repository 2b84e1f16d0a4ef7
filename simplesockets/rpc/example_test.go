package rpc_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/simplesockets/simplesockets-go/simplesockets"
	"github.com/simplesockets/simplesockets-go/simplesockets/rpc"
)

// A server that upper-cases each request, and a client calling it. The
// server answers from its select loop; it could hand req to another
// goroutine and Reply from there, in any order.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := simplesockets.NewServer(simplesockets.ServerConfig{
		Addr:    "127.0.0.1:0",
		Options: simplesockets.Options{Framing: simplesockets.LengthPrefixed(0)},
	})
	if err != nil {
		panic(err)
	}
	if err := srv.Listen(); err != nil {
		panic(err)
	}
	go srv.Serve(ctx)
	go func() {
		for m := range srv.Messages() {
			req, err := rpc.Decode(m)
			if err != nil || req.ID == 0 {
				continue // not a request
			}
			req.Reply([]byte(strings.ToUpper(string(req.Data))))
		}
	}()

	cli, err := rpc.Dial(ctx, simplesockets.ClientConfig{Addr: srv.Addr().String()}, rpc.Config{})
	if err != nil {
		panic(err)
	}
	defer cli.Close()
	reply, err := cli.Call(ctx, []byte("hello"))
	fmt.Println(string(reply), err)
	// Output: HELLO <nil>
}
