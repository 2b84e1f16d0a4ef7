// Package simplesockets puts a TCP, TLS or Unix-socket server or client into
// a Go program in a few lines: connections, messages and failures arrive on
// channels, a context.Context stops everything, and no goroutine is left
// behind.
//
// # Serve
//
// Create a [Server] from a [ServerConfig] (the zero value listens on
// 127.0.0.1:25567 with [Raw] framing), start it, and read its channels in
// one select loop. For each connection the loop receives its Connect
// before any of its Messages and its Disconnect after its last Message, so
// per-connection state (kept in the Conn with [Conn.SetValue]) needs no
// extra bookkeeping. The loop ends when Disconnects is closed: after a
// graceful stop (the context's end, [Server.Shutdown]) every event has been
// received by then.
//
//	srv, err := simplesockets.NewServer(simplesockets.ServerConfig{
//		Addr:    "127.0.0.1:9999",
//		Options: simplesockets.Options{Framing: simplesockets.Lines(0)},
//	})
//	if err != nil { ... }
//	connects, messages, disconnects := srv.Connects(), srv.Messages(), srv.Disconnects()
//	go srv.ListenAndServe(ctx) // stops gracefully when ctx ends
//	for {
//		select {
//		case c, ok := <-connects:
//			if ok {
//				c.SetValue(newSession(c))
//			}
//		case m, ok := <-messages:
//			if ok {
//				m.Conn.Value().(*session).handle(m) // m.Conn.Send(reply)
//			}
//		case d, ok := <-disconnects:
//			if !ok {
//				return // the server has stopped
//			}
//			d.Conn.Value().(*session).leave(d.Err) // errors.Is(d.Err, io.EOF): the peer closed
//		}
//	}
//
// # Dial
//
// [Dial] connects a [Client], which has the same four channels:
//
//	cli, err := simplesockets.Dial(ctx, simplesockets.ClientConfig{
//		Addr:    "127.0.0.1:9999",
//		Options: simplesockets.Options{Framing: simplesockets.Lines(0)},
//	})
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
// Message.Data belongs to the receiver, always: the package never reads,
// writes or reuses it after handing it out. Send copies its argument, which
// the caller may reuse as soon as Send returns. A *Conn stays valid after
// its connection ended: Send then returns an error matching [ErrClosed].
//
// # Flow control
//
// A peer never stalls the application or the other peers, with the
// zero-value config:
//
//   - Inbound: when the application reads Messages more slowly than peers
//     send, a connection whose messages not yet received hold
//     MaxPendingBytes (1 MiB), or all of whose hold
//     ServerConfig.MaxTotalPendingBytes (64 MiB), stops reading its socket
//     and TCP slows the peer down; nothing is dropped, and one flooding
//     peer cannot take the channel's bytes from the others (the share is
//     counted in bytes: a peer of many tiny messages can still fill its
//     MessageBuffer slots, and the others then wait for the application
//     to take some). A frame's buffer grows
//     with the bytes that actually arrived (a 4-byte header announcing
//     4 MiB costs nothing).
//   - Outbound: each connection queues at most MaxQueuedBytes (4 MiB)
//     not yet written. By default on a Server ([SendQueueDisconnect]), a
//     Send that would go over it waits for room only while the peer's
//     socket accepts bytes, so a burst far larger than the limit to a peer
//     that reads is delivered in full; a peer whose socket accepts nothing
//     for StallTimeout (100ms) is a slow consumer, disconnected with
//     [ErrSlowConsumer]. A connection whose queue holds half the limit
//     stops reading, so a peer that does not read its replies sends the
//     application nothing more: the application waits at most
//     StallTimeout, once, for a peer that stops reading what it is sent.
//     A Client blocks by default ([SendQueueBlock]).
//   - WriteTimeout (30s) means no progress: every write that moves bytes
//     restarts it, so a peer that keeps reading, however slowly, is never
//     cut by it.
//   - Every size and count in the config has a maximum: the constructors
//     return [ErrInvalidConfig] rather than let a value fail later.
//
// The README gives the worst-case memory as a formula of the config.
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
// Order: a connection's reader delivers its first message only once its
// Connect has been received (if Connects is subscribed), and its Disconnect
// is sent only once its Connect and all of its Messages have been received
// (if Messages was asked for). A subscribed channel is a promise to read
// it: a connection whose Connect is never received never delivers a
// message. After [Server.Close] (a hard stop) order is no longer waited
// for; Disconnects keep being delivered while the application takes at
// least one every 500ms, and after that the rest are dropped and counted,
// so Close stays bounded even if nobody reads them.
//
// # Guarantees
//
//  1. Exactly one Disconnect for every Connect, whatever ends the connection:
//     the peer, a reset, a timeout, an oversize frame, a slow consumer,
//     [Conn.Close], [Server.Shutdown], [Server.Close] or the context.
//  2. Per-connection order across the channels: a select loop over them
//     receives a connection's Connect before any of its Messages, its
//     Messages in the order they arrived, and its Disconnect after its last
//     Message (see "Lifecycle events" for what it takes).
//  3. The Server (or Client) closes its four channels after its last
//     goroutine has ended, so a range over any of them terminates.
//  4. Nothing is dropped silently: slow reading is backpressure; what is
//     dropped on purpose (unread lifecycle events, messages read before a
//     hard Close, slow consumers) is counted in [Stats], and every failure
//     is reported once: a connection's as its Disconnect's Err, what has no
//     Disconnect (a refused connection, an accept error) on Errors.
//  5. Bad input ends only its own connection, with a Disconnect whose
//     reason names it; memory stays within the limits.
//  6. When the context ends (or Close returns), every goroutine has ended.
//
// # Shutdown
//
// [Server.Shutdown] stops accepting (taking what the kernel has queued),
// lets connections run on for DrainNotice, then makes each stop reading,
// delivers the messages already read, writes what is queued and closes it,
// spread over DrainSpread; if its context ends first it closes everything at
// once and returns the context's error. Cancelling Serve's context does the same with
// ServerConfig.ShutdownTimeout (5s) as the deadline. [Server.Close] closes
// everything at once. Either way Serve returns only after every goroutine has
// ended, and a Server is not reused. [Client.Shutdown] and [Client.Close]
// do the same for a Client.
//
// # Internals
//
// Five mechanisms carry a message, each with one owner; BENCHMARKS.md has
// the figures that keep each one in:
//
//  1. The reader goroutine (read.go), one per connection, started through
//     the owner's errgroup: the only reader of the socket, blocked in
//     net.Conn.Read on Go's netpoller. Its buffer (internal/frame) cuts
//     frames and copies a read's frames into one block per 32 (a large
//     frame that arrived alone takes the grown buffer instead). A new plain
//     connection first waits for its first byte without a read buffer, on
//     a stack that fits 2 KiB.
//  2. The inbox and event order (internal/inbox, order.go), owned by the
//     Server or Client: channels whose receptions are counted, since they
//     are FIFO and sent on one at a time (received = sent - len). It bounds
//     inbound memory in bytes per connection, and orders each connection's
//     events across the channels.
//  3. The writer goroutine (write.go), one per connection from its first
//     Send, started through the owner's errgroup: the only writer of the
//     socket. Send appends encoded frames to the connection's queue and
//     wakes it; it writes everything queued at once.
//  4. Send's flow control (write.go, under the connection's lock): room in
//     the queue, judged by the writer's progress (internal/sock:
//     StallTimeout, WriteTimeout).
//  5. Buffer reuse (internal/pool): the buffers of large frames and the
//     blocks small frames are copied into come back through
//     [Message.Release], which the application calls, to sync.Pools of
//     size classes; idle writers hand large write buffers to one too.
package simplesockets
