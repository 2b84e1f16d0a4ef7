package proxyproto

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/simplesockets/simplesockets-go/internal/sock"
)

// Policy says which sources may put a PROXY header in front of their
// connections, for a server that sits behind load balancers.
type Policy struct {
	// Trusted are the balancers' addresses. A connection from one of them
	// must begin with a header (unless Optional); one from anywhere else
	// must not (a forged address).
	Trusted []netip.Prefix
	// Optional lets a trusted source connect without a header.
	Optional bool
	// Timeout bounds the wait for the header, or for the first bytes that
	// tell whether there is one.
	Timeout time.Duration
}

var (
	// ErrUntrusted: a PROXY header from a source that is not trusted.
	ErrUntrusted = errors.New("PROXY header from an untrusted source")
	// ErrMissing: a trusted source sent no valid PROXY header.
	ErrMissing = errors.New("no valid PROXY header from a trusted source")
)

// Admit reads the PROXY header at the start of nc, a new server-side
// connection, as p says: it returns the header, nil and no error if there
// is none to read (a direct client, or a trusted one under Optional), or
// an error matching ErrUntrusted or ErrMissing if the connection must be
// refused. It reads nothing past the header. Where a header is not
// required, it peeks at the first bytes (MSG_PEEK; without a RawConn it
// cannot, and assumes there is none) for at most Timeout: a direct client
// that does not speak first is let through after it. nc's read deadline
// is cleared on return.
func (p *Policy) Admit(nc net.Conn) (*Header, error) {
	trusted := p.Trusts(nc.RemoteAddr())
	if p.Timeout > 0 {
		nc.SetReadDeadline(time.Now().Add(p.Timeout))
		defer nc.SetReadDeadline(time.Time{})
	}
	if trusted && !p.Optional {
		return readTrusted(nc)
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, nil
	}
	var b [12]byte
	wait := time.Millisecond // between peeks at a partial signature, doubling to 100ms: a peer that stalls mid-signature costs a few dozen peeks, not one per millisecond
	for start := time.Now(); p.Timeout <= 0 || time.Since(start) < p.Timeout; {
		n, err := sock.Peek(sc, b[:])
		if err != nil {
			return nil, nil // silent, gone, or not peekable: no header; the reader sees the rest
		}
		switch yes, maybe := HasSignature(b[:n]); {
		case yes && trusted:
			return readTrusted(nc)
		case yes:
			return nil, fmt.Errorf("%w (%s)", ErrUntrusted, nc.RemoteAddr())
		case !maybe:
			return nil, nil
		}
		time.Sleep(wait) // part of a signature: wait for the rest
		wait = min(2*wait, 100*time.Millisecond)
	}
	return nil, nil // a partial signature that never completed: data, not a header
}

// Trusts reports whether a connection from a may carry a PROXY header: its
// address is then the balancer's, not the client's.
func (p *Policy) Trusts(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip, _ := netip.AddrFromSlice(ta.IP)
	for _, pfx := range p.Trusted {
		if pfx.Contains(ip.Unmap()) {
			return true
		}
	}
	return false
}

func readTrusted(nc net.Conn) (*Header, error) {
	h, err := Read(nc)
	if err != nil {
		return nil, fmt.Errorf("%w (%s): %w", ErrMissing, nc.RemoteAddr(), err)
	}
	return h, nil
}
