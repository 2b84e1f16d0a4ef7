// Command kv-client drives kv-server: C goroutines each SET a random binary
// value of S bytes under a key of their own and GET it back, N times, over
// one connection, and print {"requests":R,"ok":K,"errors":E}. It exits 0
// only if every reply matched. If the server goes away, pending and later
// calls fail at once (no reconnection), so it ends promptly with the
// failures counted; SIGINT or SIGTERM cancels the calls in flight.
//
//	kv-client -addr 127.0.0.1:7000 -c 8 -n 1000 -size 1024
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
	"github.com/simplesockets/simplesockets-go/simplesockets/rpc"
)

func main() {
	addr, size := flag.String("addr", "127.0.0.1:7000", "kv-server address"), flag.Int("size", 1024, "value size in bytes")
	c, n := flag.Int("c", 8, "concurrent goroutines"), flag.Int("n", 1000, "SET+GET pairs per goroutine")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cli, err := rpc.Dial(ctx, ss.ClientConfig{Addr: *addr}, rpc.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "kv-client:", err)
		os.Exit(1)
	}
	defer cli.Close()
	var tried, ok atomic.Int64
	var wg sync.WaitGroup
	for g := range *c {
		wg.Go(func() { // (no reconnection: once the connection has ended, stop)
			for i := 0; i < *n && ctx.Err() == nil && cli.Core().Conn().Context().Err() == nil; i++ {
				key, value := fmt.Sprintf("g%d-%d", g, i), make([]byte, *size)
				rand.Read(value)
				set, get := append(append([]byte{'S', byte(len(key))}, key...), value...), append([]byte{'G', byte(len(key))}, key...)
				for _, q := range [][2][]byte{{set, nil}, {get, value}} { // request, expected reply
					tried.Add(1)
					if got, err := cli.Call(ctx, q[0]); err == nil && bytes.Equal(got, q[1]) {
						ok.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	fmt.Printf("{\"requests\":%d,\"ok\":%d,\"errors\":%d}\n", tried.Load(), ok.Load(), tried.Load()-ok.Load())
	if ok.Load() != tried.Load() || ctx.Err() != nil {
		os.Exit(1)
	}
}
