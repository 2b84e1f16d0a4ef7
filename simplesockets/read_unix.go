//go:build unix

package simplesockets

import (
	"io"
	"net"
	"os"
	"syscall"

	"github.com/simplesockets/simplesockets-go/internal/bufpool"
)

// rawRead is the read of a connection with a RawConn (a server's plain TCP
// or Unix connection): one read(2) into buf[end:], as net.Conn.Read does,
// except that while it waits for data with nothing pending it holds no read
// buffer. The buffer goes back to bufpool before the goroutine parks and a
// buffer is taken from it when data has arrived, so a connection that has
// gone quiet costs no read buffer, and the waiting and the read stay inside
// one RawConn.Read call (no readiness notification lost in between). It
// returns the bytes read, the room there was, and the error as
// net.Conn.Read would (io.EOF, a *net.OpError, a deadline).
func (r *reader) rawRead() (int, int, error) {
	r.rn, r.rerr, r.rspace = 0, nil, 0
	if err := r.c.raw.Read(r.readFn); err != nil {
		if oe, ok := err.(*net.OpError); ok {
			oe.Op = "read" // as net.Conn.Read says, not "raw-read"
		}
		return 0, r.rspace, err
	}
	n, err, space := r.rn, r.rerr, r.rspace
	r.rerr = nil
	switch {
	case err != nil:
		c := r.c
		return 0, space, &net.OpError{Op: "read", Net: c.local.Network(), Source: c.local, Addr: c.remote, Err: os.NewSyscallError("read", err)}
	case n == 0 && space > 0:
		return 0, space, io.EOF
	}
	return n, space, nil
}

// readOnce is rawRead's RawConn.Read callback: false means "wait for the
// poller and call again".
func (r *reader) readOnce(fd uintptr) bool {
	if r.buf == nil {
		r.takeBuffer()
	}
	r.rspace = len(r.buf) - r.end
	for {
		n, err := syscall.Read(int(fd), r.buf[r.end:])
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if r.start == r.end && r.pooled && len(r.buf) == r.c.h.opts.readSize {
				r.releaseBuffer() // nothing pending: wait without it
			}
			return false
		}
		r.rn, r.rerr = max(n, 0), err
		return true
	}
}

// takeBuffer gives the reader a read-size buffer: the spare one, or one
// from bufpool unless the frames must never share memory with a pooled
// buffer (KeepData).
func (r *reader) takeBuffer() {
	r.buf = r.takeSpare(0)
	r.pooled = r.takenPooled
}

// releaseBuffer returns the read buffer, a pooled one no frame points into,
// to bufpool while the reader waits with nothing pending. (A buffer not from
// bufpool, with KeepData or an odd ReadBufferSize, is kept: dropping it
// would make garbage at every wait.)
func (r *reader) releaseBuffer() {
	bufpool.Put(r.buf)
	r.buf, r.pooled = nil, false
	r.start, r.end = 0, 0
}
