// Command chat is a line-based chat server with nicknames and rooms: every
// line a client sends goes to the others in its room, prefixed with the
// sender's name.
//
//	chat [-addr host:port] [-max-line N]
//
// Talk to it with nc or telnet:
//
//	nc 127.0.0.1 9998
//
// A client starts in the room "lobby", named by its address. "/nick NAME"
// renames it, "/join ROOM" moves it to another room, "/who" lists its room
// and "/quit" leaves. Joins, leaves and renames are announced to the room.
// A line longer than -max-line bytes ends its connection; a client that
// does not read what it is sent is dropped rather than allowed to stall the
// others. SIGINT or SIGTERM shuts the server down gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// maxName is the longest name or room name, in bytes.
const maxName = 32

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
			// disconnected with ErrSlowConsumer. That is SendPolicy's
			// default on a Server (SendQueueDisconnect), so a Send never
			// waits longer on a client that does not read.
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

// serve runs the chat on srv until ctx ends, then stops gracefully: lines
// already read are handled and queued lines flushed, for at most the
// server's ShutdownTimeout (5s). It returns once every goroutine has ended.
func serve(ctx context.Context, srv *ss.Server, log io.Writer) error {
	// Subscribe before serving: a connection's Connect then comes before its
	// Messages, and its Disconnect after them, so the loop needs no more.
	conns, msgs, discs := srv.Connects(), srv.Messages(), srv.Disconnects()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()

	ch := &chat{rooms: map[string]map[*ss.Conn]bool{}, names: map[string]bool{}, log: log}
	for done := ctx.Done(); ; {
		select {
		case <-done:
			fmt.Fprintln(log, "chat: shutting down")
			done = nil
		case c, ok := <-conns:
			if ok {
				ch.connect(c)
			}
		case d, ok := <-discs:
			if ok {
				ch.leave(d)
			}
		case m, ok := <-msgs:
			if !ok { // the server has stopped and closed its channels
				if err := <-served; !errors.Is(err, ss.ErrServerClosed) {
					return err
				}
				return nil
			}
			ch.message(m)
		}
	}
}

// session is a client's state, kept in its Conn's Value.
type session struct {
	name string
	room string // "" once it has left
}

// chat is the state of the rooms, used by the loop's goroutine only.
type chat struct {
	rooms map[string]map[*ss.Conn]bool // room -> its members
	names map[string]bool              // the names in use
	log   io.Writer
}

func (ch *chat) connect(c *ss.Conn) {
	s := &session{name: c.RemoteAddr().String()}
	c.SetValue(s)
	ch.names[s.name] = true
	send(c, "welcome, "+s.name+"! /nick NAME, /join ROOM, /who, /quit")
	ch.move(c, s, "lobby")
}

func (ch *chat) leave(d ss.Disconnect) {
	s, ok := d.Conn.Value().(*session)
	if !ok {
		return // after a hard stop only, which keeps no order: never connected
	}
	fmt.Fprintf(ch.log, "chat: %s left: %v\n", s.name, d.Err)
	ch.move(d.Conn, s, "")
	delete(ch.names, s.name)
}

// message handles one line: a command or a chat line.
func (ch *chat) message(m ss.Message) {
	// Its Value was set on its Connect, which the loop received first.
	c, s := m.Conn, m.Conn.Value().(*session)
	line := strings.TrimSuffix(string(m.Data), "\r") // telnet sends CRLF
	cmd, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	switch {
	case s.room == "" || strings.TrimSpace(line) == "":
		// (A line after its sender left comes only after a hard stop.)
	case line[0] != '/':
		ch.tell(s.room, c, "<"+s.name+"> "+line)
	case cmd == "/quit":
		send(c, "bye")
		c.Close() // flushes "bye"; the Disconnect announces the leave
	case cmd == "/who":
		var names []string
		for member := range ch.rooms[s.room] {
			names = append(names, member.Value().(*session).name)
		}
		slices.Sort(names)
		send(c, "in "+s.room+": "+strings.Join(names, ", "))
	case (cmd == "/nick" || cmd == "/join") && !valid(arg):
		send(c, fmt.Sprintf("names and rooms are 1 to %d printable characters without spaces", maxName))
	case cmd == "/nick" && arg == s.name: // nothing to do
	case cmd == "/nick" && ch.names[arg]:
		send(c, "the name "+arg+" is taken")
	case cmd == "/nick":
		delete(ch.names, s.name)
		ch.names[arg] = true
		ch.tell(s.room, nil, "* "+s.name+" is now "+arg)
		s.name = arg
	case cmd == "/join" && arg == s.room:
		send(c, "you are in "+arg+" already")
	case cmd == "/join":
		ch.move(c, s, arg)
	default:
		send(c, "unknown command; try /nick NAME, /join ROOM, /who or /quit")
	}
}

// move takes c out of its room, if any, and puts it in room, unless that
// is "": the old room hears that it left, the new one (c too) that it joined.
func (ch *chat) move(c *ss.Conn, s *session, room string) {
	if s.room != "" {
		delete(ch.rooms[s.room], c)
		if len(ch.rooms[s.room]) == 0 {
			delete(ch.rooms, s.room)
		}
		ch.tell(s.room, nil, "* "+s.name+" left")
	}
	if s.room = room; room != "" {
		if ch.rooms[room] == nil {
			ch.rooms[room] = map[*ss.Conn]bool{}
		}
		ch.rooms[room][c] = true
		ch.tell(room, nil, "* "+s.name+" joined "+room)
	}
}

// tell sends line to the members of room but skip. A Send error means that
// member is leaving (its Disconnect follows), so it needs nothing more.
func (ch *chat) tell(room string, skip *ss.Conn, line string) {
	for c := range ch.rooms[room] {
		if c != skip {
			send(c, line)
		}
	}
}

func send(c *ss.Conn, line string) { c.Send([]byte(line)) }

// valid reports whether name is a good name for a client or a room.
func valid(name string) bool {
	return name != "" && len(name) <= maxName && utf8.ValidString(name) &&
		!strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) })
}
