// Command echo-client sends K messages of S bytes to an echo server, one at a
// time, and checks every echo byte for byte.
//
//	echo-client [-network tcp|unix] [-addr host:port] [-framing raw|len32|line]
//	            [-n K] [-size S] [-tls] [-timeout D]
//
// It prints {"sent":K,"ok":N,"errors":E} and exits 0 only if all K matched.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

type result struct {
	Sent   int `json:"sent"`
	OK     int `json:"ok"`
	Errors int `json:"errors"`
}

func main() {
	network := flag.String("network", "tcp", "tcp, tcp4, tcp6 or unix")
	addr := flag.String("addr", "127.0.0.1:9999", "server address")
	framing := flag.String("framing", "raw", "raw, len32 or line")
	n := flag.Int("n", 10, "messages to send")
	size := flag.Int("size", 64, "bytes per message")
	useTLS := flag.Bool("tls", false, "use TLS (without verifying the server: for the self-signed echo-server -tls)")
	timeout := flag.Duration("timeout", 10*time.Second, "how long to wait for each echo")
	flag.Parse()

	res, err := run(*network, *addr, *framing, *n, *size, *useTLS, *timeout)
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo-client:", err)
	}
	if err != nil || res.OK != *n {
		os.Exit(1)
	}
}

func run(network, addr, framing string, n, size int, useTLS bool, timeout time.Duration) (result, error) {
	res := result{}
	if size < 1 {
		return res, fmt.Errorf("-size must be at least 1")
	}
	fr, err := parseFraming(framing)
	if err != nil {
		return res, err
	}
	opts := ss.Options{Framing: fr}
	if useTLS {
		opts.TLSConfig = &tls.Config{InsecureSkipVerify: true} // the server's certificate is self-signed
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	cli, err := ss.Dial(ctx, ss.ClientConfig{Network: network, Addr: addr, Options: opts})
	cancel()
	if err != nil {
		return res, err
	}
	defer cli.Close()
	var got []byte
	for i := range n {
		want := payload(i, size)
		if err := cli.Send(want); err != nil {
			res.Errors++
			return res, err
		}
		res.Sent++
		// Raw framing has no message boundaries: collect bytes until the
		// echo is complete. The other framings deliver it whole.
		got = got[:0]
		deadline := time.NewTimer(timeout)
		for len(got) < len(want) {
			select {
			case m, ok := <-cli.Messages():
				if !ok {
					deadline.Stop()
					return res, fmt.Errorf("connection closed after %d echoes", res.OK)
				}
				got = append(got, m.Data...)
			case <-deadline.C:
				return res, fmt.Errorf("no echo of message %d within %v", i, timeout)
			}
		}
		deadline.Stop()
		if bytes.Equal(got, want) {
			res.OK++
		} else {
			res.Errors++
		}
	}
	return res, nil
}

// payload is message i: printable, without '\n', different for each i.
func payload(i, size int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	p := make([]byte, size)
	for j := range p {
		p[j] = alphabet[(i*7+j)%len(alphabet)]
	}
	return p
}

// parseFraming returns the framing named by the -framing flag, with the
// framing's default limit on message size.
func parseFraming(name string) (ss.Framing, error) {
	switch name {
	case "raw":
		return ss.Raw(), nil
	case "len32":
		return ss.LengthPrefixed(0), nil
	case "line":
		return ss.Lines(0), nil
	}
	return nil, fmt.Errorf("unknown -framing %q (want raw, len32 or line)", name)
}
