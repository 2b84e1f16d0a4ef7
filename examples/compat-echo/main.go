// Command compat-echo is the Python manual's echo server and echo client,
// written with the compat layer and run together in one program: the server
// sends back what it receives and disconnects the client; the client sends
// b'Test' and prints what comes back. It listens on a free 127.0.0.1 port
// and exits by itself.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/simplesockets/simplesockets-go/simplesockets/compat"
)

func main() {
	if err := run(); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

func run() error {
	// Server = TCPServer()
	// Server.setup(ip='127.0.0.1', port=...)
	// Server.start()
	server := compat.NewServer(0)
	if err := server.Setup(compat.ServerSetup{IP: "127.0.0.1", Port: compat.AnyPort}); err != nil {
		return err
	}
	defer server.Close()
	if err := server.Start(); err != nil {
		return err
	}

	// The server's while-loop, polling as in the manual, in its own
	// goroutine until stop is closed.
	stop := make(chan struct{})
	serverDone := make(chan struct{})
	go func() {
		defer close(serverDone)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if server.NewData() { // if Server.event.new_data:
				for _, d := range server.ReturnRecvedData() { // recved_data = Server.return_recved_data()
					server.SendData(d.Data, d.Conn) // Server.send_data(data, client_socket)
					server.Disconnect(d.Address)    // Server.disconnect(address)
				}
			}
		}
	}()
	defer func() { close(stop); <-serverDone }()

	// Client = TCPClient()
	// Client.setup(target_ip='127.0.0.1', target_port=...)
	_, port, _ := net.SplitHostPort(server.Addr().String())
	p, _ := strconv.Atoi(port)
	client := compat.NewClient()
	if err := client.Setup(compat.ClientSetup{TargetIP: "127.0.0.1", TargetPort: p}); err != nil {
		return err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Connect(ctx); err != nil { // Client.connect()
		return err
	}
	client.AutoRecv()                                       // Client.autorecv()
	if err := client.SendData([]byte("Test")); err != nil { // Client.send_data(b'Test')
		return err
	}

	// while True: if Client.event.new_data: ... print(data_element); break
	// Here with AwaitEvent, of later Python versions: data, then the
	// disconnect when the server hangs up after the echo.
	var got []byte
	for {
		ev, err := client.AwaitEventContext(ctx)
		if err != nil {
			return fmt.Errorf("client: %w", err)
		}
		if ev.Kind == compat.EventData {
			got = append(got, ev.Data...)
		}
		if ev.Kind == compat.EventDisconnect {
			break
		}
	}
	for _, d := range client.ReturnRecvedData() {
		got = append(got, d.Data...)
	}
	fmt.Printf("client received %q from %s\n", got, client.Address())

	if string(got) != "Test" {
		return errors.New("echo mismatch")
	}
	return nil
}
