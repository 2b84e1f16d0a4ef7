// Command echo-server echoes every message back to its sender.
//
//	echo-server [-network tcp|unix] [-addr host:port|path] [-framing raw|len32|line]
//	            [-max-message N] [-max-conns N] [-max-conns-per-ip N] [-idle-timeout D] [-tls]
//	            [-proxy-protocol] [-proxy-trust CIDR[,CIDR...]] [-drain D] [-drain-notice D] [-health-addr A]
//	            [-v] [-cpuprofile F]
//
// With -proxy-protocol it sits behind a load balancer that sends the PROXY
// protocol (v1 or v2): connections from -proxy-trust must carry the header,
// and the client's address from it is the one -max-conns-per-ip counts.
//
// It prints one line when it listens and shuts down gracefully on SIGINT or
// SIGTERM. The flags are a contract: benchmark and test tools drive it.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "echo-server:", err)
		os.Exit(1)
	}
}

func run() error {
	network := flag.String("network", "tcp", "tcp, tcp4, tcp6 or unix")
	addr := flag.String("addr", "127.0.0.1:9999", "address to listen on (a path for -network unix)")
	framing := flag.String("framing", "raw", "raw, len32 or line")
	maxMessage := flag.Int("max-message", 0, "largest message for len32/line (0: the framing's default)")
	maxConns := flag.Int("max-conns", 0, "most open connections (0: no limit)")
	maxPerIP := flag.Int("max-conns-per-ip", 0, "most open connections from one client IP (0: no limit)")
	proxy := flag.Bool("proxy-protocol", false, "require a PROXY protocol header (v1 or v2) from -proxy-trust sources")
	proxyTrust := flag.String("proxy-trust", "127.0.0.1/32", "comma-separated CIDRs of the balancers trusted to send PROXY headers")
	drain := flag.Duration("drain", 5*time.Second, "on SIGINT/SIGTERM, drain connections for at most this long")
	drainNotice := flag.Duration("drain-notice", 0, "on SIGINT/SIGTERM, let connections run on this long (accepting has stopped) before draining them")
	healthAddr := flag.String("health-addr", "", "a TCP address for a balancer's health checks; on SIGINT/SIGTERM it closes first, and the server accepts for -drain-notice more before it stops")
	idle := flag.Duration("idle-timeout", 0, "disconnect a client silent this long (0: never)")
	useTLS := flag.Bool("tls", false, "serve TLS with an in-memory self-signed certificate")
	verbose := flag.Bool("v", false, "print connection errors")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to this file until shutdown")
	flag.Parse()

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	fr, err := parseFraming(*framing, *maxMessage)
	if err != nil {
		return err
	}
	cfg := ss.ServerConfig{
		Network:             *network,
		Addr:                *addr,
		MaxConnections:      *maxConns,
		MaxConnectionsPerIP: *maxPerIP,
		DrainNotice:         *drainNotice,
		Options:             ss.Options{Framing: fr, IdleTimeout: *idle},
	}
	if *proxy {
		for _, s := range strings.Split(*proxyTrust, ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(s))
			if err != nil {
				return fmt.Errorf("-proxy-trust: %w", err)
			}
			cfg.ProxyTrusted = append(cfg.ProxyTrusted, p)
		}
	}
	if *useTLS {
		if cfg.TLSConfig, err = selfSignedTLS(); err != nil {
			return err
		}
	}
	srv, err := ss.NewServer(cfg)
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	var health net.Listener
	if *healthAddr != "" {
		if health, err = net.Listen("tcp", *healthAddr); err != nil {
			return err
		}
		go func() { // a health check connects: it is up while this accepts
			for {
				c, err := health.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	fmt.Printf("echo-server: listening on %s (%s, framing %s)\n", srv.Addr(), *network, *framing)

	// On SIGINT/SIGTERM, shut down gracefully; the loop below ends when the
	// server closes Messages.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		if health != nil {
			// Fail the balancer's checks first and go on accepting until it
			// has noticed: closing the listener with connections in its
			// queue would reset them.
			health.Close()
			time.Sleep(*drainNotice)
		}
		sctx, cancel := context.WithTimeout(context.Background(), *drain)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background()) }()

	// Errors are printed by a goroutine of their own, so that the echo loop
	// is a plain receive; both loops end when the server closes its
	// channels.
	errsDone := make(chan struct{})
	go func() {
		defer close(errsDone)
		for err := range srv.Errors() {
			if *verbose {
				fmt.Fprintln(os.Stderr, "echo-server:", err)
			}
		}
	}()
	if *verbose { // (Connects is subscribed only then: nobody reads it otherwise)
		go func() {
			for c := range srv.Connects() {
				fmt.Printf("echo-server: %v connected (via %v)\n", c, c.ProxyAddr())
			}
		}()
	}
	for m := range srv.Messages() {
		m.Conn.Send(m.Data) // an error means the connection is ending: its Disconnect says why
		m.Release()         // Send copied it: its memory can serve a later message
	}
	<-errsDone
	if err := <-served; !errors.Is(err, ss.ErrServerClosed) {
		return err
	}
	if *verbose {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(os.Stderr, "echo-server: %+v\n", srv.Stats())
		fmt.Fprintf(os.Stderr, "echo-server: %d allocations, %d MiB allocated, %d GCs\n", ms.Mallocs, ms.TotalAlloc>>20, ms.NumGC)
	}
	return nil
}

// parseFraming returns the framing named by the -framing flag (raw, len32,
// line) with maxMessage as its limit (0: the framing's default).
func parseFraming(name string, maxMessage int) (ss.Framing, error) {
	switch name {
	case "raw":
		return ss.Raw(), nil
	case "len32":
		return ss.LengthPrefixed(maxMessage), nil
	case "line":
		return ss.Lines(maxMessage), nil
	}
	return nil, fmt.Errorf("unknown -framing %q (want raw, len32 or line)", name)
}

// selfSignedTLS returns a TLS server configuration with a throw-away
// certificate made in memory: self-signed, valid for one day for 127.0.0.1,
// ::1 and localhost. Clients must skip verifying it, as echo-client -tls
// does. Never use it to protect anything.
func selfSignedTLS() (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "echo-server"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
