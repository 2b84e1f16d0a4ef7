// Command tls-echo makes a self-signed certificate in memory, starts a TLS
// echo server with it and a TLS client that trusts it (with -mtls, the server
// also requires a client certificate signed by the same in-memory CA),
// exchanges a few messages and shuts down.
//
//	tls-echo [-mtls]
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
	"os"
	"time"

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
	ca, err := newCA("tls-echo CA")
	if err != nil {
		return err
	}
	serverCert, err := ca.leaf("tls-echo")
	if err != nil {
		return err
	}
	serverTLS := &tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12}
	clientTLS := &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12}
	if mtls {
		serverTLS.ClientAuth = tls.RequireAndVerifyClientCert
		serverTLS.ClientCAs = ca.pool
		cert, err := ca.leaf("tls-echo client")
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
	go func() { served <- srv.Serve(ctx) }()
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

// certAuthority is a throw-away certificate authority made in memory. Never
// use it to protect anything.
type certAuthority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool // holds cert, to verify the leaves
}

// newCA makes a self-signed CA certificate valid for one day.
func newCA(commonName string) (*certAuthority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	ca := &certAuthority{cert: cert, key: key, pool: x509.NewCertPool()}
	ca.pool.AddCert(cert)
	return ca, nil
}

// leaf makes a certificate signed by the CA, valid for one day for
// 127.0.0.1, ::1 and localhost, usable by a server and by a client.
func (ca *certAuthority) leaf(commonName string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
