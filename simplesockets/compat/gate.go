package compat

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"github.com/simplesockets/simplesockets-go/internal/listen"
)

// gate is the net.Listener the compat Server hands to the core Server's
// Serve. Its Accept waits while the gate is paused (Stop) or has no
// listener (ExitAccept), so the core accept loop stays alive and the
// existing connections keep working; while paused, new clients wait in the
// kernel's backlog. Only Close (called by the core on Shutdown/Close, or by
// the compat Server) makes Accept return net.ErrClosed.
type gate struct {
	network, addr string
	backlog       int
	keepAlive     time.Duration

	mu        sync.Mutex
	inner     net.Listener // nil after exit
	paused    bool
	closed    bool
	accepting bool          // an Accept is inside inner.Accept
	changed   chan struct{} // closed and replaced on every state change
	bound     net.Addr      // the address first bound, kept after exit
}

func newGate(network, addr string, backlog int, keepAlive time.Duration) (*gate, error) {
	ln, err := listen.Listen(context.Background(), network, addr, backlog, keepAlive)
	if err != nil {
		return nil, err
	}
	return &gate{
		network: network, addr: ln.Addr().String(), backlog: backlog, keepAlive: keepAlive,
		inner: ln, paused: true, changed: make(chan struct{}), bound: ln.Addr(),
	}, nil
}

// notifyLocked wakes the goroutines waiting for a state change. mu must be
// held.
func (g *gate) notifyLocked() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// Accept waits until the gate is open, then accepts from the listener.
func (g *gate) Accept() (net.Conn, error) {
	for {
		g.mu.Lock()
		if g.closed {
			g.mu.Unlock()
			return nil, net.ErrClosed
		}
		if g.paused || g.inner == nil {
			ch := g.changed
			g.mu.Unlock()
			<-ch
			continue
		}
		ln := g.inner
		g.accepting = true
		g.mu.Unlock()

		nc, err := ln.Accept()

		g.mu.Lock()
		g.accepting = false
		g.notifyLocked()
		closed, swapped := g.closed, g.inner != ln
		g.mu.Unlock()
		if err == nil {
			return nc, nil
		}
		switch {
		case closed:
			return nil, net.ErrClosed
		case swapped, errors.Is(err, os.ErrDeadlineExceeded):
			// Interrupted by Stop (a deadline) or ExitAccept (closed):
			// go back to waiting.
			continue
		}
		return nil, err
	}
}

// pause stops accepting and returns once no Accept is in progress on the
// listener (a connection the kernel handed over just before is still
// returned to the server).
func (g *gate) pause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.paused = true
	g.interruptLocked()
	for g.accepting && !g.closed {
		ch := g.changed
		g.mu.Unlock()
		<-ch
		g.mu.Lock()
	}
}

// interruptLocked makes a blocked inner.Accept return. mu must be held.
func (g *gate) interruptLocked() {
	if d, ok := g.inner.(interface{ SetDeadline(time.Time) error }); ok && g.accepting {
		_ = d.SetDeadline(time.Unix(1, 0))
	}
}

// resume opens the gate again (after pause).
func (g *gate) resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if d, ok := g.inner.(interface{ SetDeadline(time.Time) error }); ok {
		_ = d.SetDeadline(time.Time{})
	}
	g.paused = false
	g.notifyLocked()
}

// exit closes the listener for good (until restart): new clients are
// refused; Accept keeps waiting so the core server keeps running.
func (g *gate) exit() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.inner != nil {
		g.inner.Close()
		g.inner = nil
	}
	g.notifyLocked()
}

// restart listens again on the address first bound (if exit was called) and
// opens the gate.
func (g *gate) restart() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return net.ErrClosed
	}
	if g.inner == nil {
		ln, err := listen.Listen(context.Background(), g.network, g.addr, g.backlog, g.keepAlive)
		if err != nil {
			return err
		}
		g.inner = ln
	} else if d, ok := g.inner.(interface{ SetDeadline(time.Time) error }); ok {
		_ = d.SetDeadline(time.Time{})
	}
	g.paused = false
	g.notifyLocked()
	return nil
}

// inAccept reports whether an Accept waits in the listener now.
func (g *gate) inAccept() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.accepting
}

// state reports whether the gate lets Accept through, and whether exit was
// called.
func (g *gate) state() (open, exited bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.closed && !g.paused && g.inner != nil, g.closed || g.inner == nil
}

// Close closes the listener and makes Accept return net.ErrClosed. It is
// idempotent.
func (g *gate) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	if g.inner != nil {
		g.inner.Close()
	}
	g.notifyLocked()
	return nil
}

// Addr is the address first bound; it stays the same across ExitAccept and
// Restart.
func (g *gate) Addr() net.Addr { return g.bound }
