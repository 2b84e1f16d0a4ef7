package simplesockets_test

// The Go snippets of README.md and of the package doc are made of the lines
// of these examples (TestReadmeSnippetsAreExamples checks it): change an
// example and its snippet together.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/simplesockets/simplesockets-go/simplesockets"
)

// session is the per-connection state of ExampleServer_select, kept in the
// Conn with SetValue.
type session struct {
	lines int
	stop  context.CancelFunc
}

func (s *session) handle(m simplesockets.Message) {
	s.lines++
	fmt.Printf("server got %q\n", m.Data)
	m.Conn.Send(bytes.ToUpper(m.Data))
}

func (s *session) leave(err error) {
	fmt.Printf("left after %d line(s), peer closed: %v\n", s.lines, errors.Is(err, io.EOF))
	s.stop() // this example serves one client, then stops
}

// The package doc's server and client, together: a select loop that keeps
// per-connection state in the Conn and ends when the server has stopped,
// and the client of ExampleDial. Both use Lines framing.
func ExampleServer_select() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	newSession := func(c *simplesockets.Conn) *session {
		fmt.Println("connected")
		return &session{stop: cancel}
	}
	var client sync.WaitGroup
	defer client.Wait()

	srv, err := simplesockets.NewServer(simplesockets.ServerConfig{
		Addr:    "127.0.0.1:0", // a free port: Listen opens it, Addr tells which
		Options: simplesockets.Options{Framing: simplesockets.Lines(0)},
	})
	if err != nil {
		log.Fatal(err)
	}
	connects, messages, disconnects := srv.Connects(), srv.Messages(), srv.Disconnects()
	if err := srv.Listen(); err != nil {
		log.Fatal(err)
	}
	client.Go(func() { exampleClient(srv.Addr().String()) })
	go srv.ListenAndServe(ctx) // stops gracefully when ctx ends
	for {
		select {
		case c, ok := <-connects:
			if ok {
				c.SetValue(newSession(c))
			}
		case m, ok := <-messages:
			if ok {
				m.Conn.Value().(*session).handle(m) // m.Conn.Send(reply)
			}
		case d, ok := <-disconnects:
			if !ok {
				return // the server has stopped
			}
			d.Conn.Value().(*session).leave(d.Err) // errors.Is(d.Err, io.EOF): the peer closed
		}
	}
	// Output:
	// connected
	// server got "hello"
	// client got "HELLO"
	// left after 1 line(s), peer closed: true
}

// exampleClient is the client of ExampleServer_select: the code of
// ExampleDial.
func exampleClient(addr string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cli, err := simplesockets.Dial(ctx, simplesockets.ClientConfig{
		Addr:    addr,
		Options: simplesockets.Options{Framing: simplesockets.Lines(0)},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer cli.Close()
	cli.Send([]byte("hello"))
	m := <-cli.Messages()
	fmt.Printf("client got %q\n", m.Data)
}

// A client: dial, send, receive the answer, close. The server here echoes;
// it uses the client's framing.
func ExampleDial() {
	lines := simplesockets.Options{Framing: simplesockets.Lines(0)}
	srv, err := simplesockets.NewServer(simplesockets.ServerConfig{Addr: "127.0.0.1:0", Options: lines})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background()) }()
	go func() {
		for m := range srv.Messages() { // ends when the server closes Messages
			m.Conn.Send(m.Data)
		}
	}()
	defer func() {
		srv.Close()
		<-served
	}()

	// ctx bounds the dial only; Close ends the client.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cli, err := simplesockets.Dial(ctx, simplesockets.ClientConfig{
		Addr:    srv.Addr().String(),
		Options: simplesockets.Options{Framing: simplesockets.Lines(0)},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer cli.Close()
	cli.Send([]byte("hello"))
	m := <-cli.Messages()
	fmt.Printf("echo: %s\n", m.Data)
	// Output: echo: hello
}

// One Server serves a TCP and a Unix listener with one set of channels; a
// client on each sends a line and gets it back.
func ExampleServer_Serve_severalListeners() {
	dir, err := os.MkdirTemp("", "simplesockets-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "echo.sock")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	tcpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	unixLn, err := net.Listen("unix", sock)
	if err != nil {
		log.Fatal(err)
	}
	srv, err := simplesockets.NewServer(simplesockets.ServerConfig{
		Options: simplesockets.Options{Framing: simplesockets.Lines(0)},
	})
	if err != nil {
		log.Fatal(err)
	}

	// The clients, one after the other; then the server stops.
	var clients sync.WaitGroup
	defer clients.Wait()
	clients.Go(func() {
		defer cancel()
		for _, ln := range []net.Listener{tcpLn, unixLn} {
			network, addr := ln.Addr().Network(), ln.Addr().String()
			nc, err := net.Dial(network, addr)
			if err != nil {
				log.Fatal(err)
			}
			fmt.Fprintf(nc, "hello over %s\n", network)
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, err := bufio.NewReader(nc).ReadString('\n')
			nc.Close()
			if err != nil {
				log.Fatal(err)
			}
			fmt.Printf("%s client got %q\n", network, line)
		}
	})

	go srv.Serve(ctx, tcpLn, unixLn) // both on the same Connects, Messages, ...; srv.Shutdown(ctx) stops both
	for m := range srv.Messages() {
		m.Conn.Send(m.Data) // m.Conn.LocalAddr() says which listener
	}
	fmt.Println("the server has stopped")
	// Output:
	// tcp client got "hello over tcp\n"
	// unix client got "hello over unix\n"
	// the server has stopped
}

// Lines framing cuts the byte stream at '\n', however the bytes arrive:
// here a plain TCP peer (as nc would be) writes two lines and half of a
// third in one write, then the rest.
func ExampleLines() {
	srv, err := simplesockets.NewServer(simplesockets.ServerConfig{
		Addr:    "127.0.0.1:0",
		Options: simplesockets.Options{Framing: simplesockets.Lines(80)}, // longer lines end the connection
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background()) }()
	defer func() {
		srv.Close()
		<-served
	}()

	nc, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	fmt.Fprint(nc, "one\ntwo\nthr")
	fmt.Fprint(nc, "ee\n")

	for range 3 {
		m := <-srv.Messages()
		fmt.Printf("%q\n", m.Data)
	}
	// Output:
	// "one"
	// "two"
	// "three"
}

// LengthPrefixed framing puts a 4-byte big-endian length before each
// payload, so a message may hold any bytes, newlines included. The raw
// bytes a plain TCP peer reads show the format.
func ExampleLengthPrefixed() {
	srv, err := simplesockets.NewServer(simplesockets.ServerConfig{
		Addr:    "127.0.0.1:0",
		Options: simplesockets.Options{Framing: simplesockets.LengthPrefixed(1 << 20)}, // at most 1 MiB a message
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background()) }()
	defer func() {
		srv.Close()
		<-served
	}()

	nc, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	c := <-srv.Connects()
	c.Send([]byte("a\nb"))
	buf := make([]byte, 7)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(nc, buf); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("% x\n", buf)

	nc.Write([]byte{0, 0, 0, 2, 'h', 'i'})
	m := <-srv.Messages()
	fmt.Printf("%q\n", m.Data)
	// Output:
	// 00 00 00 03 61 0a 62
	// "hi"
}

// Shutdown stops accepting, lets each connection finish writing what was
// queued, closes the connections and waits for the server's goroutines;
// Serve then returns ErrServerClosed.
func ExampleServer_Shutdown() {
	lines := simplesockets.Options{Framing: simplesockets.Lines(0)}
	srv, err := simplesockets.NewServer(simplesockets.ServerConfig{Addr: "127.0.0.1:0", Options: lines})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background()) }()

	cli, err := simplesockets.Dial(context.Background(), simplesockets.ClientConfig{Addr: srv.Addr().String(), Options: lines})
	if err != nil {
		log.Fatal(err)
	}
	defer cli.Close()
	c := <-srv.Connects()
	c.Send([]byte("the server is going down"))

	// Give the connections at most 5 seconds to flush; then they are
	// closed at once and Shutdown returns context.DeadlineExceeded.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Println("shutdown:", srv.Shutdown(ctx))
	fmt.Println("serve:", <-served)

	// The queued message was delivered before the connection closed.
	m := <-cli.Messages()
	fmt.Println("client got:", string(m.Data))
	d := <-cli.Disconnects()
	fmt.Println("client disconnected, peer closed:", errors.Is(d.Err, io.EOF))
	// Output:
	// shutdown: <nil>
	// serve: simplesockets: server closed
	// client got: the server is going down
	// client disconnected, peer closed: true
}

// Conns is a snapshot of the open connections: sending to each is a
// broadcast.
func ExampleServer_Conns() {
	lines := simplesockets.Options{Framing: simplesockets.Lines(0)}
	srv, err := simplesockets.NewServer(simplesockets.ServerConfig{Addr: "127.0.0.1:0", Options: lines})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background()) }()
	defer func() {
		srv.Close()
		<-served
	}()

	var clients []*simplesockets.Client
	for range 3 {
		cli, err := simplesockets.Dial(context.Background(), simplesockets.ClientConfig{Addr: srv.Addr().String(), Options: lines})
		if err != nil {
			log.Fatal(err)
		}
		defer cli.Close()
		clients = append(clients, cli)
	}
	// Conns lists the connections open now: wait until the server has set
	// up all three.
	for range clients {
		<-srv.Connects()
	}

	for _, c := range srv.Conns() {
		if err := c.Send([]byte("news for everyone")); err != nil {
			log.Printf("%v: %v", c, err) // a peer that went away meanwhile
		}
	}
	for i, cli := range clients {
		m := <-cli.Messages()
		fmt.Printf("client %d got %q\n", i+1, m.Data)
	}
	// Output:
	// client 1 got "news for everyone"
	// client 2 got "news for everyone"
	// client 3 got "news for everyone"
}
