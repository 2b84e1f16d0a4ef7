package main

import (
	"context"
	"errors"
	"testing"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
	"github.com/simplesockets/simplesockets-go/simplesockets/rpc"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addrc, served := make(chan string, 1), make(chan error, 1)
	go func() { served <- serve(ctx, "127.0.0.1:0", func(a string) { addrc <- a }) }()
	cli, err := rpc.Dial(ctx, ss.ClientConfig{Addr: <-addrc}, rpc.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	call := func(req string) (string, error) {
		b, err := cli.Call(ctx, []byte(req))
		return string(b), err
	}
	var re *rpc.RemoteError
	for _, step := range []struct {
		req, want string
		missing   bool
	}{
		{req: "S\x01k\x00\xffvalue"},
		{req: "G\x01k", want: "\x00\xffvalue"},
		{req: "D\x01k"},
		{req: "G\x01k", missing: true},
	} {
		got, err := call(step.req)
		if step.missing {
			if !errors.As(err, &re) || re.Message != "not found" {
				t.Fatalf("%q: %q %v, want not found", step.req, got, err)
			}
			continue
		}
		if err != nil || got != step.want {
			t.Fatalf("%q: %q %v, want %q", step.req, got, err, step.want)
		}
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after the context ended")
	}
}
