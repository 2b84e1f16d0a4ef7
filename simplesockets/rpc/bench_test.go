package rpc_test

import (
	"context"
	"sync"
	"testing"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
	"github.com/simplesockets/simplesockets-go/simplesockets/rpc"
	"github.com/simplesockets/simplesockets-go/simplesockets/sstest"
)

// benchServer answers requests with their payload and echoes plain
// messages, so that a plain round trip and a call cost the server the same.
func benchServer(b *testing.B) *sstest.Server {
	srv := sstest.NewServer(b, ss.ServerConfig{Options: ss.Options{Framing: ss.LengthPrefixed(0)}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range srv.Messages() {
			if req, err := rpc.Decode(m); err == nil && req.ID != 0 {
				req.Reply(req.Data)
			} else {
				m.Conn.Send(m.Data)
			}
		}
	}()
	b.Cleanup(func() { srv.Close(); <-done })
	return srv
}

// benchClient is an rpc.Client of a new benchServer; cleanup closes it.
func benchClient(b *testing.B) *rpc.Client {
	srv := benchServer(b)
	c, err := rpc.NewClient(srv.Dial(b, ss.ClientConfig{Options: ss.Options{Framing: ss.LengthPrefixed(0)}}), rpc.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

var payload = make([]byte, 64)

// BenchmarkPlainRoundTrip is the baseline of BenchmarkCall: Send, then
// receive the echo from Messages, on one connection (harness S1's shape).
func BenchmarkPlainRoundTrip(b *testing.B) {
	srv := benchServer(b)
	cli := srv.Dial(b, ss.ClientConfig{Options: ss.Options{Framing: ss.LengthPrefixed(0)}})
	msgs := cli.Messages()
	b.ReportAllocs()
	for b.Loop() {
		if err := cli.Send(payload); err != nil {
			b.Fatal(err)
		}
		<-msgs
	}
}

// BenchmarkCall is one goroutine calling in a loop: the request/response
// layer's cost over BenchmarkPlainRoundTrip.
func BenchmarkCall(b *testing.B) {
	c := benchClient(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Call(ctx, payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCallParallel8 is 8 goroutines calling concurrently on one
// connection (b.N calls in all).
func BenchmarkCallParallel8(b *testing.B) {
	c := benchClient(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	per := (b.N + 7) / 8
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				if _, err := c.Call(ctx, payload); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
