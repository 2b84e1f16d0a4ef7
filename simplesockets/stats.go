package simplesockets

import "sync/atomic"

// Stats is a snapshot of a Server's or Client's counters. Every field counts
// from the creation of the Server or Client; Open is a gauge. Taking a
// snapshot costs a few atomic loads, so calling Stats every second is cheap.
// Counters are read one by one, so a snapshot taken under load is not an
// atomic cut across fields. The JSON field names are snake_case, for a
// /debug endpoint.
type Stats struct {
	// Open is the number of connections open now (produced on Connects and
	// not yet on Disconnects).
	Open int64 `json:"open"`
	// Accepted counts connections that reached Connects (for a Client: the
	// successful dials).
	Accepted uint64 `json:"accepted"`
	// RejectedPerIP counts connections refused before Connects because
	// their IP had MaxConnectionsPerIP connections already.
	RejectedPerIP uint64 `json:"rejected_per_ip"`
	// RejectedTLS counts connections whose TLS handshake failed or timed
	// out (they never reach Connects).
	RejectedTLS uint64 `json:"rejected_tls"`
	// RejectedProxy counts connections refused for their PROXY header
	// (missing, malformed, or from an untrusted source).
	RejectedProxy uint64 `json:"rejected_proxy"`
	// BytesIn and BytesOut count bytes read from and written to sockets,
	// framing included (after TLS decryption, before encryption).
	BytesIn  uint64 `json:"bytes_in"`
	BytesOut uint64 `json:"bytes_out"`
	// Reads and Writes count read and write calls on sockets; with
	// MessagesIn and MessagesOut they show how many messages one system
	// call carries.
	Reads  uint64 `json:"reads"`
	Writes uint64 `json:"writes"`
	// MessagesIn counts messages delivered on Messages; MessagesOut counts
	// messages written to sockets.
	MessagesIn  uint64 `json:"messages_in"`
	MessagesOut uint64 `json:"messages_out"`
	// SendErrors counts Send calls that returned an error (closed
	// connection, full queue, payload the framing rejects).
	SendErrors uint64 `json:"send_errors"`
	// SlowConsumers counts connections cut off with ErrSlowConsumer: their
	// send queue was full and their socket accepted nothing for
	// StallTimeout.
	SlowConsumers uint64 `json:"slow_consumers"`
	// PendingBytes is the bytes of messages in the Messages channel, read
	// and not yet received by the application (a gauge; see
	// Options.MaxPendingBytes).
	PendingBytes int64 `json:"pending_bytes"`
	// MessagesDiscarded counts complete messages that had been read but
	// were not delivered because the connection, server or client was
	// closed hard (Close, context cancellation, a failure) first.
	MessagesDiscarded uint64 `json:"messages_discarded"`
	// EventsDropped counts lifecycle events (Connects, Disconnects,
	// Errors) that were dropped because nobody had asked for that channel
	// and its buffer was full, or because the owner was closing and the
	// channel was full. See the package documentation, "Lifecycle events".
	EventsDropped uint64 `json:"events_dropped"`
	// Reconnects counts successful Client reconnections (always 0 for a
	// Server).
	Reconnects uint64 `json:"reconnects"`
}

// counters are written by readers, writers and the application on all
// cores: the ones each side updates per read or write have a cache line of
// their own.
type counters struct {
	reads, bytesIn, msgsIn     atomic.Uint64 // readers
	_                          [64]byte
	writes, bytesOut, msgsOut  atomic.Uint64 // writers
	_                          [64]byte
	sendErrors, discarded      atomic.Uint64
	open                       atomic.Int64
	accepted, rejectedIP       atomic.Uint64
	rejectedTLS, rejectedProxy atomic.Uint64
	slowConsumers              atomic.Uint64
	eventsDropped              atomic.Uint64
	reconnects                 atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Open:              c.open.Load(),
		Accepted:          c.accepted.Load(),
		RejectedPerIP:     c.rejectedIP.Load(),
		RejectedTLS:       c.rejectedTLS.Load(),
		RejectedProxy:     c.rejectedProxy.Load(),
		BytesIn:           c.bytesIn.Load(),
		BytesOut:          c.bytesOut.Load(),
		Reads:             c.reads.Load(),
		Writes:            c.writes.Load(),
		MessagesIn:        c.msgsIn.Load(),
		MessagesOut:       c.msgsOut.Load(),
		SendErrors:        c.sendErrors.Load(),
		SlowConsumers:     c.slowConsumers.Load(),
		MessagesDiscarded: c.discarded.Load(),
		EventsDropped:     c.eventsDropped.Load(),
		Reconnects:        c.reconnects.Load(),
	}
}
