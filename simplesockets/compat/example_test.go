package compat_test

import (
	"fmt"
	"io"
	"net"
	"time"

	"github.com/simplesockets/simplesockets-go/simplesockets/compat"
)

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
