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
//     two entries. It keeps the newest MaxExceptions (1024) entries;
//     ExceptionsDropped counts the older ones it dropped.
//   - Memory is bounded, see "Memory" below.
//   - The listen backlog really reaches listen(2) (on Linux).
//   - Reads never stall on payloads that are exact multiples of the receive
//     buffer.
//   - Errors are also returned by the call that failed, as Go errors.
//
// # Memory
//
// Python's recved_data and exception list grow without limit. Here the
// received data held and not yet returned is bounded in bytes
// (ServerSetup.MaxRecvedBytes, ClientSetup.MaxRecvedBytes; 16 MiB by
// default), and what happens at the bound depends on the style:
//
//   - Polling style (no OnReceive): the list is the only way the data
//     reaches the application, so nothing is dropped. The pump stops taking
//     data from the core until ReturnRecvedData or AwaitEvent takes some; the
//     core stops reading the sockets and TCP slows the peers down.
//   - Callback style (OnReceive set): OnReceive has every item, and every
//     item is still added to the list, as in Python. Reading goes on (code
//     that never calls ReturnRecvedData keeps working) and the list keeps the
//     newest items within the bound; the oldest ones are dropped from it and
//     counted by RecvedDropped. Code that uses OnReceive only as a signal and
//     takes the data with ReturnRecvedData loses nothing as long as it keeps
//     up within the bound, and can see if it did not.
//   - HandleClient (Server): items go to it only; nothing is held.
//
// Hooks run on the pump, so while one runs nothing is taken from the core
// either. The exception list keeps at most MaxExceptions entries, and the
// connect and disconnect events waiting for AwaitEvent at most
// MaxQueuedEvents.
//
// # Message boundaries
//
// As in Python, one item of received data is what one read of at most the
// receive buffer size brought (simplesockets.Raw framing). TCP is a byte
// stream: a peer's write can arrive as several items and several writes as
// one. Every byte arrives unchanged and in order.
package compat
