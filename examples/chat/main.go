// Command chat is a line-based chat server: every line a client sends goes
// to every client, prefixed with the sender's name.
//
//	chat [-addr host:port] [-max-line N]
//
// Talk to it with nc or telnet:
//
//	nc 127.0.0.1 9998
//
// A client's name is its address until it sends "/nick NAME"; "/quit"
// leaves. Joins, leaves and renames are announced to everyone. A line longer
// than -max-line bytes ends its connection; a client that does not read
// what it is sent is dropped rather than allowed to stall the others.
// SIGINT or SIGTERM shuts the server down gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// maxNick is the longest name /nick accepts, in bytes.
const maxNick = 32

func main() {
	addr := flag.String("addr", "127.0.0.1:9998", "address to listen on")
	maxLine := flag.Int("max-line", 1024, "longest line a client may send, in bytes")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *maxLine, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

// run listens on addr, prints the address to log and serves until ctx ends.
func run(ctx context.Context, addr string, maxLine int, log io.Writer) error {
	srv, err := listen(addr, maxLine)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "chat: listening on %s\n", srv.Addr())
	return serve(ctx, srv, log)
}

// listen makes the chat server and opens its listener.
func listen(addr string, maxLine int) (*ss.Server, error) {
	if maxLine < 1 {
		return nil, fmt.Errorf("-max-line must be at least 1")
	}
	srv, err := ss.NewServer(ss.ServerConfig{
		Addr: addr,
		Options: ss.Options{
			Framing: ss.Lines(maxLine),
			// At most 64 KiB queued per client. A client that reads gets
			// every line, however long the paste; one whose socket takes
			// nothing for StallTimeout (100ms) while 64 KiB are queued is
			// disconnected (ErrSlowConsumer): the default SendPolicy of a
			// Server, so Broadcast never waits on it for longer.
			MaxQueuedBytes: 64 << 10,
		},
	})
	if err != nil {
		return nil, err
	}
	if err := srv.Listen(); err != nil {
		return nil, err
	}
	return srv, nil
}

// serve runs the chat on srv until ctx ends, then shuts srv down gracefully
// (queued lines are flushed, for at most 5 seconds). It returns when every
// goroutine it started, and the server's, have ended.
func serve(ctx context.Context, srv *ss.Server, log io.Writer) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background()) }()

	shutdownDone := make(chan struct{})
	stopShutdown := context.AfterFunc(ctx, func() {
		defer close(shutdownDone)
		fmt.Fprintln(log, "chat: shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	})

	newChat(srv, log).loop() // returns when the server has closed its channels

	err := <-served
	if !stopShutdown() {
		<-shutdownDone
	}
	if errors.Is(err, ss.ErrServerClosed) {
		return nil
	}
	return err
}

// chat is the state of the room. It is used by the loop's goroutine only.
type chat struct {
	srv   *ss.Server
	log   io.Writer
	names map[*ss.Conn]string
}

func newChat(srv *ss.Server, log io.Writer) *chat {
	return &chat{srv: srv, log: log, names: make(map[*ss.Conn]string)}
}

// loop handles the server's events until it closes its channels.
//
// The four channels are independent, so select can pick a connection's
// Message before its Connect, or its Disconnect before its last Messages.
// The loop makes up for it: a connection joins the room on its Connect or
// its first Message, whichever comes first, and on a Disconnect the
// Messages already waiting (which include all of that connection's, as the
// package sends them before the Disconnect) are handled first.
func (ch *chat) loop() {
	msgs, conns, discs, errs := ch.srv.Messages(), ch.srv.Connects(), ch.srv.Disconnects(), ch.srv.Errors()
	for msgs != nil || conns != nil || discs != nil || errs != nil {
		select {
		case m, ok := <-msgs:
			if !ok {
				msgs = nil
				continue
			}
			ch.message(m)
		case c, ok := <-conns:
			if !ok {
				conns = nil
				continue
			}
			ch.join(c)
		case d, ok := <-discs:
			if !ok {
				discs = nil
				continue
			}
			for drained := false; !drained && msgs != nil; {
				select {
				case m, ok := <-msgs:
					if !ok {
						msgs = nil
						continue
					}
					ch.message(m)
				default:
					drained = true
				}
			}
			ch.leave(d)
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			fmt.Fprintln(ch.log, "chat:", err)
		}
	}
}

// join greets c and announces it, unless it has joined already or has
// ended (its Disconnect was handled before its Connect).
func (ch *chat) join(c *ss.Conn) bool {
	if _, ok := ch.names[c]; ok {
		return true
	}
	if c.Context().Err() != nil {
		return false
	}
	name := c.RemoteAddr().String()
	ch.names[c] = name
	c.Send([]byte("welcome, " + name + "! /nick NAME to rename, /quit to leave"))
	ch.broadcast("* " + name + " joined")
	return true
}

// leave announces that a connection has gone.
func (ch *chat) leave(d ss.Disconnect) {
	name, ok := ch.names[d.Conn]
	if !ok {
		return
	}
	delete(ch.names, d.Conn)
	ch.broadcast("* " + name + " left")
}

// message handles one line: a command or a chat line.
func (ch *chat) message(m ss.Message) {
	if !ch.join(m.Conn) {
		return // from a connection that has left already
	}
	line := strings.TrimSuffix(string(m.Data), "\r") // telnet sends CRLF
	switch {
	case strings.TrimSpace(line) == "":
		return
	case line == "/quit":
		m.Conn.Send([]byte("bye"))
		m.Conn.Close() // flushes "bye"; the Disconnect announces the leave
	case line == "/nick" || strings.HasPrefix(line, "/nick "):
		ch.nick(m.Conn, strings.TrimSpace(strings.TrimPrefix(line, "/nick")))
	case strings.HasPrefix(line, "/"):
		m.Conn.Send([]byte("unknown command; try /nick NAME or /quit"))
	default:
		ch.broadcast("<" + ch.names[m.Conn] + "> " + line)
	}
}

// nick renames c to name if name is valid and free.
func (ch *chat) nick(c *ss.Conn, name string) {
	switch {
	case name == "" || len(name) > maxNick || !utf8.ValidString(name) ||
		strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }):
		c.Send([]byte(fmt.Sprintf("a name is 1 to %d printable characters without spaces", maxNick)))
		return
	case name == ch.names[c]:
		return
	}
	for _, taken := range ch.names {
		if taken == name {
			c.Send([]byte("the name " + name + " is taken"))
			return
		}
	}
	old := ch.names[c]
	ch.names[c] = name
	ch.broadcast("* " + old + " is now " + name)
}

// broadcast sends line to every client. A Send error means that client is
// leaving (its Disconnect follows), so it is logged and nothing more.
func (ch *chat) broadcast(line string) {
	if err := ch.srv.Broadcast([]byte(line)); err != nil {
		fmt.Fprintln(ch.log, "chat: broadcast:", err)
	}
}
