// Package rpc is request/response over a simplesockets connection: a
// Client's Call sends a request and returns its reply, safe for many
// goroutines at once and bounded by a context; a server answers each
// request from its select loop or any goroutine, in any order.
//
// # Envelope
//
// Every frame carries a small envelope, so requests, replies and plain
// messages (server push, or a client's one-way Send) share one connection:
//
//	push:    0x00, payload
//	request: 0x01, 8-byte big-endian ID, payload
//	reply:   0x02, 8-byte big-endian ID, payload
//	failure: 0x03, 8-byte big-endian ID, message (the server's Fail)
//
// IDs are chosen by the client (from 1, never reused by one Client). The
// envelope needs a framing that keeps message boundaries and any byte:
// use simplesockets.LengthPrefixed on both ends (Raw cuts frames anywhere;
// Delimited cannot carry an ID that contains its delimiter).
//
// # Server
//
// The server reads its Messages as usual and decodes each:
//
//	case m := <-srv.Messages():
//		req, err := rpc.Decode(m)
//		if err != nil { ... } // not an envelope: m.Conn.Close()?
//		if req.ID == 0 { ... } // a plain message (the client's Send)
//		req.Reply(answer(req.Data)) // or later, from another goroutine
//
// Push sends a plain message that a Client delivers on its Messages.
package rpc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

// Envelope kinds (the first byte of a frame).
const (
	kindPush    = 0
	kindRequest = 1
	kindReply   = 2
	kindFailure = 3
	headerLen   = 9 // kind and ID
)

var (
	// ErrMalformed is returned by Decode for a frame that is not an
	// envelope; a Client counts and drops such frames (Stats.Malformed).
	ErrMalformed = errors.New("rpc: malformed envelope")
	// ErrNotRequest is returned by Reply and Fail on a plain message.
	ErrNotRequest = errors.New("rpc: not a request")
	// ErrTooManyPending is returned by Call when Config.MaxPending calls
	// are waiting for their replies already.
	ErrTooManyPending = errors.New("rpc: too many pending calls")
	// ErrConnectionLost is matched by the error of a call whose connection
	// ended before its reply came (a *CallError with Sent set).
	ErrConnectionLost = errors.New("rpc: connection lost")
)

// CallError is the error of a call that got no reply. Sent says whether
// the request had been queued on a connection (the server may have
// received it and acted on it); Err says why: it matches
// ErrConnectionLost (with the Disconnect reason wrapped),
// simplesockets.ErrNotConnected, ErrTooManyPending, the context's error,
// or a Send error.
type CallError struct {
	Sent bool
	Err  error
}

func (e *CallError) Error() string {
	if e.Sent {
		return "rpc: call sent, no reply: " + e.Err.Error()
	}
	return "rpc: call not sent: " + e.Err.Error()
}

// Unwrap returns Err.
func (e *CallError) Unwrap() error { return e.Err }

// RemoteError is the error of a call the server answered with Fail.
type RemoteError struct{ Message string }

func (e *RemoteError) Error() string { return "rpc: remote: " + e.Message }

// Request is a frame a server received, decoded. It belongs to the
// receiver, as the Message it came from; Reply and Fail are safe to call
// from any goroutine, once each.
type Request struct {
	Conn *ss.Conn // the connection it came on: the reply goes there
	ID   uint64   // 0 for a plain message (no reply expected)
	Data []byte   // the payload, a sub-slice of the Message's Data
}

// Decode decodes m. A request has a non-zero ID; a plain message has ID 0.
func Decode(m ss.Message) (Request, error) {
	kind, id, data, err := decode(m.Data)
	switch {
	case err != nil:
		return Request{}, err
	case kind == kindRequest:
		return Request{Conn: m.Conn, ID: id, Data: data}, nil
	case kind == kindPush:
		return Request{Conn: m.Conn, Data: data}, nil
	}
	return Request{}, fmt.Errorf("%w: a %s sent to a server", ErrMalformed, kindName(kind))
}

// Reply sends data as the reply to r (Conn.Send: it copies data).
func (r Request) Reply(data []byte) error { return r.answer(kindReply, data) }

// Fail answers r with a failure: the caller's Call returns a *RemoteError
// with msg.
func (r Request) Fail(msg string) error { return r.answer(kindFailure, []byte(msg)) }

func (r Request) answer(kind byte, data []byte) error {
	if r.ID == 0 {
		return ErrNotRequest
	}
	return send(r.Conn, kind, r.ID, data)
}

// Push sends data to c as a plain message, which a Client delivers on its
// Messages channel.
func Push(c *ss.Conn, data []byte) error { return send(c, kindPush, 0, data) }

// envBufs recycles envelopes: Send copies them, so each is free again as
// soon as it returns.
var envBufs = sync.Pool{New: func() any { return new([]byte) }}

func send(c *ss.Conn, kind byte, id uint64, data []byte) error {
	p := envBufs.Get().(*[]byte)
	b := append((*p)[:0], kind)
	if kind != kindPush {
		b = binary.BigEndian.AppendUint64(b, id)
	}
	b = append(b, data...)
	err := c.Send(b)
	if cap(b) <= 64<<10 {
		*p = b
		envBufs.Put(p)
	}
	return err
}

func decode(b []byte) (kind byte, id uint64, data []byte, err error) {
	switch {
	case len(b) == 0:
		return 0, 0, nil, fmt.Errorf("%w: empty frame", ErrMalformed)
	case b[0] == kindPush:
		return kindPush, 0, b[1:], nil
	case b[0] > kindFailure:
		return 0, 0, nil, fmt.Errorf("%w: kind %d", ErrMalformed, b[0])
	case len(b) < headerLen:
		return 0, 0, nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	id = binary.BigEndian.Uint64(b[1:])
	if id == 0 {
		return 0, 0, nil, fmt.Errorf("%w: ID 0", ErrMalformed)
	}
	return b[0], id, b[headerLen:], nil
}

func kindName(k byte) string {
	return [...]string{"push", "request", "reply", "failure"}[k]
}
