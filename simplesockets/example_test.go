package simplesockets_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// A server's select loop: it greets each connection, answers each line in
// upper case and reports why each connection ended. A client in another
// goroutine plays the peer.
func ExampleServer() {
	srv, err := ss.NewServer(ss.ServerConfig{
		Addr:    "127.0.0.1:0", // a free port; Addr() tells which
		Options: ss.Options{Framing: ss.Lines(1024)},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()

	// The peer: it waits for the greeting, sends two lines, reads the
	// answers and hangs up.
	peerDone := make(chan error, 1)
	go func() { peerDone <- exampleUpperPeer(srv.Addr().String()) }()

	for done := false; !done; {
		select {
		case c := <-srv.Connects():
			fmt.Println("connected")
			c.Send([]byte("hello, send me lines"))
		case m := <-srv.Messages():
			fmt.Printf("message %q\n", m.Data)
			m.Conn.Send([]byte(strings.ToUpper(string(m.Data))))
		case d := <-srv.Disconnects():
			fmt.Println("disconnected, peer closed:", errors.Is(d.Err, io.EOF))
			done = true
		case err := <-srv.Errors():
			fmt.Println("error:", err)
		}
	}

	if err := <-peerDone; err != nil {
		fmt.Println("peer:", err)
	}
	cancel() // Serve stops gracefully, then closes the channels
	if err := <-served; errors.Is(err, ss.ErrServerClosed) {
		fmt.Println("serve: a normal stop:", err)
	}
	// Output:
	// connected
	// message "one"
	// message "two"
	// disconnected, peer closed: true
	// serve: a normal stop: simplesockets: server closed: context canceled
}

// exampleUpperPeer is the client of ExampleServer.
func exampleUpperPeer(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := ss.Dial(ctx, ss.ClientConfig{Addr: addr, Options: ss.Options{Framing: ss.Lines(1024)}})
	if err != nil {
		return err
	}
	defer cli.Close()
	<-cli.Messages() // the greeting: the server has seen the Connect
	cli.Send([]byte("one"))
	cli.Send([]byte("two"))
	for range 2 {
		<-cli.Messages()
	}
	return nil
}

// A client: dial, send, receive the answer, close. The server here echoes.
func ExampleDial() {
	lines := ss.Options{Framing: ss.Lines(0)}
	srv, err := ss.NewServer(ss.ServerConfig{Addr: "127.0.0.1:0", Options: lines})
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
	cli, err := ss.Dial(ctx, ss.ClientConfig{Addr: srv.Addr().String(), Options: lines})
	if err != nil {
		log.Fatal(err)
	}
	defer cli.Close()

	if err := cli.Send([]byte("ping")); err != nil {
		log.Fatal(err)
	}
	m := <-cli.Messages()
	fmt.Printf("echo: %s\n", m.Data)
	// Output: echo: ping
}

// Lines framing cuts the byte stream at '\n', however the bytes arrive:
// here a plain TCP peer (as nc would be) writes two lines and half of a
// third in one write, then the rest.
func ExampleLines() {
	srv, err := ss.NewServer(ss.ServerConfig{
		Addr:    "127.0.0.1:0",
		Options: ss.Options{Framing: ss.Lines(80)}, // longer lines end the connection
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
	srv, err := ss.NewServer(ss.ServerConfig{
		Addr:    "127.0.0.1:0",
		Options: ss.Options{Framing: ss.LengthPrefixed(1 << 20)}, // at most 1 MiB a message
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
	srv, err := ss.NewServer(ss.ServerConfig{Addr: "127.0.0.1:0", Options: ss.Options{Framing: ss.Lines(0)}})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background()) }()

	cli, err := ss.Dial(context.Background(), ss.ClientConfig{Addr: srv.Addr().String(), Options: ss.Options{Framing: ss.Lines(0)}})
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

// Broadcast sends a message to every open connection.
func ExampleServer_Broadcast() {
	lines := ss.Options{Framing: ss.Lines(0)}
	srv, err := ss.NewServer(ss.ServerConfig{Addr: "127.0.0.1:0", Options: lines})
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

	var clients []*ss.Client
	for range 3 {
		cli, err := ss.Dial(context.Background(), ss.ClientConfig{Addr: srv.Addr().String(), Options: lines})
		if err != nil {
			log.Fatal(err)
		}
		defer cli.Close()
		clients = append(clients, cli)
	}
	// Broadcast reaches the connections open now: wait until the server
	// has set up all three.
	for range clients {
		<-srv.Connects()
	}

	if err := srv.Broadcast([]byte("news for everyone")); err != nil {
		log.Fatal(err)
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
