// Package compat gives the calls of the Python package simplesockets
// (TCPServer, TCPClient), under Go names, on top of the channel-first
// package simplesockets.
//
// Code written for the Python package polls: it checks event.new_data,
// takes the list return_recved_data returns, and looks at the exceptions
// now and then. A compat [Server] or [Client] does the same:
//
//	srv := compat.NewServer(0) // TCPServer(); 0 = no connection limit
//	if err := srv.Setup(compat.ServerSetup{IP: "127.0.0.1", Port: 9999}); err != nil {
//		return err
//	}
//	defer srv.Close()
//	srv.Start()
//	for {
//		ev, err := srv.AwaitEvent(0) // or: if srv.NewData() { srv.ReturnRecvedData() }
//		if err != nil {
//			return err
//		}
//		if ev.Kind == compat.EventData {
//			srv.SendData(ev.Data, ev.Conn)
//			srv.Disconnect(ev.Address)
//		}
//	}
//
// New Go code should use package simplesockets directly: its channels,
// context and select loop do everything this package does without a
// polling loop.
//
// # Ownership
//
// A compat Server or Client owns the four channels of the core Server or
// Client it wraps. Setup starts a pump goroutine that drains them into
// lists guarded by a mutex and runs the hooks; Close ends it. Every compat
// value must be closed.
//
// # Differences from the Python package, on purpose
//
//   - Max connections really pauses accepting at the limit (the slot is
//     taken before accept, further clients wait in the listen backlog) and
//     resumes below it.
//   - A peer's clean close (FIN) and a reset (RST) both produce a disconnect:
//     the hook, the event and the state.
//   - ReturnRecvedData swaps the list under a lock: nothing that arrives
//     between "return" and "clear" is lost.
//   - The exception list is a list: two exceptions in the same second are
//     two entries.
//   - The listen backlog really reaches listen(2) (on Linux).
//   - Reads never stall on payloads that are exact multiples of the receive
//     buffer.
//   - Errors are also returned by the call that failed, as Go errors.
//
// # Message boundaries
//
// As in Python, one item of received data is what one read of at most the
// receive buffer size brought (simplesockets.Raw framing). TCP is a byte
// stream: a peer's write can arrive as several items and several writes as
// one. Every byte arrives unchanged and in order.
package compat
