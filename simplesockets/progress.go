package simplesockets

import (
	"net"
	"syscall"
	"time"
)

// progressConn is what a connection's writer writes to: the socket, with
// every write call that moves bytes recorded as progress (Conn.progress),
// so that StallTimeout and WriteTimeout measure time without progress
// rather than the duration of a whole write. A plain connection's writer
// writes to it directly; a TLS connection's tls.Conn writes its records
// to it. On unix it writes with write(2) through the socket's RawConn (one
// progress per system call); elsewhere it writes in chunks of
// fallbackChunk bytes.
type progressConn struct {
	net.Conn
	raw syscall.RawConn // nil: chunked writes
	c   *Conn           // set once the Conn exists, before its writer starts
}

func newProgressConn(nc net.Conn) *progressConn {
	p := &progressConn{Conn: nc}
	if sc, ok := nc.(syscall.Conn); ok && rawWrites {
		p.raw, _ = sc.SyscallConn()
	}
	return p
}

// fallbackChunk is the most bytes one write carries where there is no
// RawConn: a peer reading slower than that per StallTimeout looks stalled.
const fallbackChunk = 16 << 10

func (p *progressConn) Write(b []byte) (int, error) {
	if p.raw != nil {
		return p.rawWrite(b)
	}
	n := 0
	for n < len(b) {
		m, err := p.Conn.Write(b[n:min(len(b), n+fallbackChunk)])
		n += m
		if m > 0 {
			p.progress()
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (p *progressConn) progress() {
	if c := p.c; c != nil {
		c.progress(time.Now())
	}
}

// progress records that the writer's write moved bytes at now, and moves
// the write deadline on (at most every quarter of WriteTimeout: a timer
// update costs). Only the goroutine writing calls it.
func (c *Conn) progress(now time.Time) {
	c.busySince.Store(now.UnixNano())
	if wt := c.h.opts.WriteTimeout; wt > 0 && now.Sub(c.deadlineSet) > wt/4 {
		_ = c.nc.SetWriteDeadline(now.Add(wt)) // a failure shows in the write
		c.deadlineSet = now
	}
}
