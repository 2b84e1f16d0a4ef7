package sstest

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
)

// PipeListener is an in-memory net.Listener built on net.Pipe: each Dial
// makes a pipe and hands one end to Accept. Serve a Server on it with
// srv.Serve(ctx, ln) to test it without sockets, and talk to it through the
// net.Conn that Dial returns (ss.Client dials real networks only).
//
// Each connection has its own address ("sstest-pipe-N" on the dialling
// side, which is the RemoteAddr the server sees), so Server.Conns and the
// application can tell the connections apart.
//
// A pipe has no buffer: a Write returns only when the other side has read
// the bytes. A test that writes to a server which is not reading (because
// its Messages are not being received, for instance) blocks, where a TCP
// socket would have buffered a little.
//
// All methods are safe for concurrent use. The Server that serves on the
// listener owns it and closes it; closing it twice is harmless.
type PipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	n     atomic.Uint64
}

// NewPipeListener returns an open PipeListener.
func NewPipeListener() *PipeListener {
	return &PipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// pipeAddr is the address of a pipe end.
type pipeAddr string

func (pipeAddr) Network() string  { return "pipe" }
func (a pipeAddr) String() string { return string(a) }

// listenerAddr is the PipeListener's address, and the local address of the
// accepted ends.
const listenerAddr = pipeAddr("sstest-pipe")

// pipeConn is a pipe end with distinct addresses.
type pipeConn struct {
	net.Conn
	local, remote net.Addr
}

func (c *pipeConn) LocalAddr() net.Addr  { return c.local }
func (c *pipeConn) RemoteAddr() net.Addr { return c.remote }

// Accept waits for a Dial and returns the listener's end of the pipe. After
// Close it returns an error matching net.ErrClosed.
func (l *PipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: "pipe", Addr: listenerAddr, Err: net.ErrClosed}
	}
}

// Close makes Accept and Dial fail from now on. Connections made already
// stay open. Close is idempotent and returns nil.
func (l *PipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr returns the listener's address ("sstest-pipe", network "pipe").
func (l *PipeListener) Addr() net.Addr { return listenerAddr }

// Dial makes a pipe, waits until Accept has taken the other end, and returns
// the dialling end. It fails with an error matching net.ErrClosed if the
// listener is closed, and with ctx's error if ctx ends first. The caller
// owns the returned net.Conn and must close it.
func (l *PipeListener) Dial(ctx context.Context) (net.Conn, error) {
	addr := pipeAddr("sstest-pipe-" + strconv.FormatUint(l.n.Add(1), 10))
	client, server := net.Pipe()
	select {
	case l.conns <- &pipeConn{Conn: server, local: listenerAddr, remote: addr}:
		return &pipeConn{Conn: client, local: addr, remote: listenerAddr}, nil
	case <-l.done:
		client.Close()
		server.Close()
		return nil, &net.OpError{Op: "dial", Net: "pipe", Addr: listenerAddr, Err: net.ErrClosed}
	case <-ctx.Done():
		client.Close()
		server.Close()
		return nil, &net.OpError{Op: "dial", Net: "pipe", Addr: listenerAddr, Err: ctx.Err()}
	}
}
