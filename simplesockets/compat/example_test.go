package compat_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/simplesockets/simplesockets-go/simplesockets/compat"
)

// The package doc's echo server, waiting with AwaitEvent: it answers each
// item of data and disconnects its client, until the server is closed.
func ExampleServer_AwaitEvent() {
	started := make(chan *compat.Server, 1)
	served := make(chan error, 1)
	go func() { served <- exampleAwaitEventServer(started) }()
	var srv *compat.Server
	select {
	case srv = <-started:
	case err := <-served: // Setup failed
		fmt.Println(err)
		return
	}

	c, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	c.Write([]byte("Test"))
	echo, _ := io.ReadAll(c) // until the server disconnects this client
	fmt.Printf("client got %q\n", echo)

	srv.Close() // AwaitEvent returns net.ErrClosed once the pending events are taken
	fmt.Println("server stopped:", errors.Is(<-served, net.ErrClosed))
	// Output:
	// client got "Test"
	// server stopped: true
}

// exampleAwaitEventServer is the server of the package doc; it hands the
// Server to the example once it listens.
func exampleAwaitEventServer(started chan<- *compat.Server) error {
	srv := compat.NewServer(0) // TCPServer(); 0 = no connection limit
	if err := srv.Setup(compat.ServerSetup{IP: "127.0.0.1", Port: compat.AnyPort}); err != nil {
		return err
	}
	defer srv.Close()
	srv.Start()
	started <- srv
	for {
		ev, err := srv.AwaitEvent(0) // or: if srv.NewData() { srv.ReturnRecvedData() }
		if err != nil {
			return err
		}
		if ev.Kind == compat.EventData {
			srv.SendData(ev.Data, ev.Conn)
			srv.Disconnect(ev.Address)
		}
	}
}

// The manual's echo server, polling: check NewData, take the list with
// ReturnRecvedData, answer each item and disconnect its client.
func ExampleServer_ReturnRecvedData() {
	srv := compat.NewServer(0) // Python: TCPServer()
	if err := srv.Setup(compat.ServerSetup{IP: "127.0.0.1", Port: compat.AnyPort}); err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	srv.Start()

	// A client, here a plain TCP connection.
	c, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	c.Write([]byte("Test"))

	// The Python while-loop: poll until something came.
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !srv.NewData() {
		<-tick.C
	}
	for _, d := range srv.ReturnRecvedData() {
		fmt.Printf("server got %q\n", d.Data)
		srv.SendData(d.Data, d.Conn)
		srv.Disconnect(d.Address)
	}

	echo, _ := io.ReadAll(c)
	fmt.Printf("client got %q\n", echo)
	// Output:
	// server got "Test"
	// client got "Test"
}
