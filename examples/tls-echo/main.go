// Command tls-echo makes a self-signed certificate in memory, starts a TLS
// echo server with it and a TLS client that trusts it (with -mtls, the server
// also requires a client certificate signed by the same in-memory CA),
// exchanges a few messages and shuts down.
//
//	tls-echo [-mtls]
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/simplesockets/simplesockets-go/internal/selfsigned"
	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

func main() {
	mtls := flag.Bool("mtls", false, "require and verify a client certificate (mutual TLS)")
	flag.Parse()
	if err := run(*mtls); err != nil {
		fmt.Fprintln(os.Stderr, "tls-echo:", err)
		os.Exit(1)
	}
}

func run(mtls bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pair, err := selfsigned.New("tls-echo")
	if err != nil {
		return err
	}
	serverTLS, clientTLS := pair.ServerConfig(), pair.ClientConfig()
	if mtls {
		serverTLS.ClientAuth = tls.RequireAndVerifyClientCert
		serverTLS.ClientCAs = pair.Pool
		cert, err := pair.Leaf("tls-echo client")
		if err != nil {
			return err
		}
		clientTLS.Certificates = []tls.Certificate{cert}
	}

	srv, err := ss.NewServer(ss.ServerConfig{Addr: "127.0.0.1:0", Options: ss.Options{Framing: ss.Lines(0), TLSConfig: serverTLS}})
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	fmt.Println("server: TLS on", srv.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, nil) }()
	go func() {
		for m := range srv.Messages() {
			state, _ := m.Conn.TLSConnectionState()
			fmt.Printf("server: %q over %s\n", m.Data, tls.VersionName(state.Version))
			m.Conn.Send(m.Data)
		}
	}()

	cli, err := ss.Dial(ctx, ss.ClientConfig{Addr: srv.Addr().String(), Options: ss.Options{Framing: ss.Lines(0), TLSConfig: clientTLS}})
	if err != nil {
		return err
	}
	for _, text := range []string{"hello", "over", "TLS"} {
		cli.Send([]byte(text))
		select {
		case m := <-cli.Messages():
			fmt.Printf("client: got %q back\n", m.Data)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	cli.Close()
	if err := srv.Shutdown(ctx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, ss.ErrServerClosed) {
		return err
	}
	fmt.Println("server: shut down")
	return nil
}
