// Package simplesockets puts a TCP, TLS or Unix-socket server or client into
// a Go program in a few lines: connections, messages and failures arrive on
// channels, a context.Context stops everything, and no goroutine is left
// behind.
//
// # Serve
//
// Create a [Server] from a [ServerConfig] (the zero value listens on
// 127.0.0.1:25567 with [Raw] framing), start it, and read its channels in a
// select loop:
//
//	srv, err := simplesockets.NewServer(simplesockets.ServerConfig{
//		Addr:    "127.0.0.1:9999",
//		Options: simplesockets.Options{Framing: simplesockets.LengthPrefixed(0)},
//	})
//	if err != nil { ... }
//	go srv.ListenAndServe(ctx) // returns when ctx ends, or after Shutdown/Close
//	for {
//		select {
//		case c := <-srv.Connects(): // *Conn: ID, RemoteAddr, Send, Close, Context
//		case d := <-srv.Disconnects(): // why it ended: errors.Is(d.Err, ErrPeerClosed) ...
//		case m := <-srv.Messages(): // Message{Conn, Data, Time}
//			m.Conn.Send(m.Data)
//		case err := <-srv.Errors(): // *ConnError and accept errors
//		case <-ctx.Done():
//			return
//		}
//	}
//
// Because the server closes all four channels once it has stopped, a loop can
// also run until Messages is closed (the echo-server example does that) and
// leave stopping to [Server.Shutdown] called elsewhere.
//
// # Dial
//
// [Dial] connects a [Client], which has the same four channels:
//
//	cli, err := simplesockets.Dial(ctx, simplesockets.ClientConfig{Addr: "127.0.0.1:9999"})
//	if err != nil { ... }
//	defer cli.Close()
//	cli.Send([]byte("hello"))
//	m := <-cli.Messages()
//
// The context of Dial and Connect bounds the dial and the TLS handshake only,
// as with net.Dialer; [Client.Close] ends the client.
//
// # Message boundaries
//
// TCP carries bytes, not messages. The [Framing] decides where one message
// ends: [Raw] (the default, as in the Python package) makes every read of up
// to ReadBufferSize bytes a message, so a peer's two writes may arrive as one
// Message and one write may arrive as several. Use [LengthPrefixed] (a 4-byte
// big-endian length before each payload) or [Delimited]/[Lines] when both
// ends are yours, or implement [Framing] for a protocol's own header. Each
// framing has a size limit that is checked before memory is allocated.
//
// # Ownership
//
// Message.Data belongs to the receiver, with one exception: a Data sent back
// on the connection it arrived on, m.Conn.Send(m.Data) (an echo, or a reply
// built in place), is the package's once that Send has returned nil, and
// must not be read, modified or kept after it. The package reuses the
// memory of such a Data when it is large (a frame that needed a buffer of
// its own, bigger than the read buffer and at most 1 MiB), which makes
// echoing large messages allocation-free. A Data sent to other connections
// (with Send or [Server.Broadcast]), sent by a Send that failed, or not sent
// at all stays the receiver's. Options.KeepData removes the exception.
// Under the race detector a Data handed back is overwritten with 0xDD bytes
// as soon as Send returns, so that code which still reads it fails its
// tests. Every other slice passed to Send is copied: the caller may reuse
// it at once. A *Conn stays valid after its connection ended: Send then
// returns an error matching [ErrClosed].
//
// # Backpressure
//
// Each connection has one reader goroutine, except a server's plain TCP or
// Unix connection that has sent nothing yet (and has no IdleTimeout): on
// Linux it waits in an epoll set of the package's own, without a goroutine,
// until it has something to read or is closed (about 2 KiB per idle
// connection instead of 4.5). When the application reads
// Messages more slowly than peers send, the Messages channel fills up, the
// readers stop reading their sockets, and TCP slows the peers down: memory
// stays bounded by MessageBuffer and the read buffers (a large message's
// buffer is less than twice its size), and nothing is dropped. On the way
// out, each connection has a send queue bounded by MaxQueuedBytes; when it is
// full, Send blocks, fails or disconnects the peer, as [SendPolicy] says.
// Queued messages go out together, one system call for everything queued: a
// server writes its plain connections from one goroutine (and from its
// readers, between reads), and a goroutine of the connection's own runs only
// while a slow peer, a TLS connection or a client has something to write.
//
// # Lifecycle events
//
// Connects, Disconnects and Errors are "subscribed" once their accessor has
// been called. A subscribed channel receives every event, with blocking sends:
// if the application stops reading it, the connection (or accept loop) that
// produces the next event waits. A channel nobody asked for keeps the first
// EventBuffer events and drops the rest, counted in Stats.EventsDropped, so
// an application that reads only Messages runs forever without stalling.
// Call the accessors before serving (or read the channels in the select loop
// from the start) to receive every event.
//
// # Guarantees
//
//  1. Exactly one Disconnect for every Connect, whatever ends the connection:
//     the peer, a reset, a timeout, an oversize frame, [Conn.Close],
//     [Server.Disconnect], [Server.Shutdown], [Server.Close] or the context.
//  2. A connection's messages are sent on Messages in the order they were
//     received, and all of them before its Disconnect is sent. A select loop
//     over several buffered channels may still pick the Disconnect first.
//  3. The Server (or Client) closes its four channels after its last
//     goroutine has ended, so a range over any of them terminates.
//  4. Nothing is dropped silently: slow reading is backpressure; what is
//     dropped on purpose (unread lifecycle events, messages read before a
//     hard Close) is counted in [Stats], and failures are reported on Errors.
//  5. Bad input ends only its own connection, with an error on Errors and a
//     Disconnect whose reason names it; memory stays within the limits.
//  6. When the context ends (or Close returns), every goroutine has ended.
//
// # Shutdown
//
// [Server.Shutdown] stops accepting, makes every connection stop reading,
// delivers the messages already read, writes what is queued and closes; if
// its context ends first it closes everything at once and returns the
// context's error. [Server.Close] and cancelling Serve's context close
// everything at once. Either way Serve returns only after every goroutine has
// ended, and a Server is not reused.
package simplesockets
