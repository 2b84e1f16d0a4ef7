// Package proxyproto reads the header of the HAProxy PROXY protocol,
// versions 1 (text) and 2 (binary), that a load balancer sends at the start
// of each connection to pass on the address of the real client. The
// specification is haproxy.org's doc/proxy-protocol.txt.
//
// Read takes the header off a connection and nothing more: it asks its
// reader only for bytes that are part of the header (so it needs no
// bufio.Reader, and the application data that follows stays unread), and it
// never buffers more than the bounds below. It does not set deadlines: a
// caller reading from a net.Conn must set one first (the specification
// suggests a few seconds, at least 3 to cover a TCP retransmit), or a peer
// that sends nothing, or half a header, holds the connection forever.
//
// The specification forbids guessing whether a header is present: a
// listener that expects PROXY headers must be reachable only by trusted
// balancers and must drop a connection when Read fails; a listener that does
// not expect them may use HasSignature to refuse connections that try to
// forge one.
package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Bounds on what Read accepts, and so on what it allocates.
const (
	// MaxV1Len is the longest version 1 line, CRLF included: the
	// specification's worst case, "PROXY UNKNOWN" with two full IPv6
	// addresses and ports.
	MaxV1Len = 107
	// MaxTLVLen caps the bytes a version 2 header may carry after its
	// address block (its TLVs). The specification allows up to 65535 less
	// the address block; balancers send far less (an SSL TLV with its
	// sub-TLVs, a unique ID of at most 128 bytes, a cloud's endpoint ID),
	// so Read rejects more than this rather than buffer up to 64 KiB per
	// connection.
	MaxTLVLen = 2048
	// MaxHeaderLen is the longest header Read accepts: the version 2 fixed
	// part (16 bytes), the largest address block (AF_UNIX, 216 bytes) and
	// MaxTLVLen.
	MaxHeaderLen = v2FixedLen + unixBlockLen + MaxTLVLen
)

var (
	// ErrNoHeader reports that the first bytes of the stream are not a PROXY
	// signature ("PROXY" or the 12-byte version 2 signature). Read returns
	// it inside a *NoHeaderError that holds the bytes it consumed.
	ErrNoHeader = errors.New("proxyproto: no PROXY protocol header")
	// ErrInvalid reports a header that starts with a PROXY signature but
	// breaks the specification, or exceeds this package's bounds. Read
	// wraps it with the reason.
	ErrInvalid = errors.New("proxyproto: invalid PROXY protocol header")
)

// NoHeaderError is the error Read returns when the stream does not start
// with a PROXY signature. It matches ErrNoHeader under errors.Is.
type NoHeaderError struct {
	// Seen holds the bytes Read consumed: those of a signature's prefix,
	// then the first one that matched neither signature. Read asked for no
	// byte after it, so io.MultiReader(bytes.NewReader(Seen), r) is the
	// stream as it was.
	Seen []byte
}

// Error describes the bytes seen.
func (e *NoHeaderError) Error() string {
	return fmt.Sprintf("%v (stream starts %q)", ErrNoHeader, e.Seen)
}

// Unwrap returns ErrNoHeader.
func (e *NoHeaderError) Unwrap() error { return ErrNoHeader }

// Header is a parsed PROXY header.
type Header struct {
	// Version is 1 (text) or 2 (binary).
	Version int
	// Local reports a header that carries no client address, so the
	// connection's own endpoints apply: a version 2 LOCAL command (a
	// balancer's health check), a version 2 PROXY command with the
	// AF_UNSPEC family, or a version 1 "UNKNOWN" line.
	Local bool
	// Source is the real client: a *net.TCPAddr (TCP over IPv4 or IPv6) or
	// a *net.UnixAddr (version 2 AF_UNIX; an abstract socket's name starts
	// with '@'). Nil if Local.
	Source net.Addr
	// Dest is the address the client connected to (the balancer's
	// frontend), of the same type as Source. Nil if Local.
	Dest net.Addr
	// TLVs are the version 2 type-length-value fields that follow the
	// address block, in order; nil if none, and for version 1. Read
	// rejects a header whose CRC32C TLV (type 0x03) does not match, and
	// does not look into the others. The values, and the IPs of Source
	// and Dest, share one buffer.
	TLVs []TLV
}

// TLV is one version 2 type-length-value field. The specification
// registers types 0x01-0x05, 0x20-0x25 (SSL and its sub-TLVs, which stay
// inside the SSL value) and 0x30; 0xE0-0xEF are for applications (cloud
// balancers put their endpoint IDs there).
type TLV struct {
	// Type is the field's type.
	Type byte
	// Value is the field's value, at most 65535 bytes.
	Value []byte
}

// Signatures and sizes of the wire formats.
const (
	v1Sig        = "PROXY"
	v2Sig        = "\r\n\r\n\x00\r\nQUIT\n"
	v2FixedLen   = 16 // signature, version and command, family and protocol, length
	unixPathLen  = 108
	unixBlockLen = 2 * unixPathLen

	cmdLocal = 0x0
	cmdProxy = 0x1

	famUnspec   = 0x00 // AF_UNSPEC, UNSPEC
	famTCP4     = 0x11 // AF_INET, STREAM
	famUDP4     = 0x12
	famTCP6     = 0x21 // AF_INET6, STREAM
	famUDP6     = 0x22
	famUnix     = 0x31 // AF_UNIX, STREAM
	famUnixgram = 0x32

	tlvCRC32C = 0x03
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// HasSignature reports what the first bytes of a stream, b, say about a
// PROXY header: yes if b starts with a signature ("PROXY", or the 12-byte
// version 2 signature); maybe if b is a proper prefix of one (the empty
// slice included), so more bytes are needed to decide. Both are false when
// b cannot start a header; from 12 bytes on, maybe is always false.
//
// A listener that does not expect PROXY headers can peek at a connection's
// first bytes and refuse it when yes (or, if it cannot wait, when maybe), so
// that no server behind it takes a forged header for a balancer's.
func HasSignature(b []byte) (yes, maybe bool) {
	for _, sig := range [...]string{v1Sig, v2Sig} {
		if len(b) >= len(sig) {
			if string(b[:len(sig)]) == sig {
				return true, false
			}
		} else if string(b) == sig[:len(b)] {
			maybe = true
		}
	}
	return false, maybe
}

// Read reads one PROXY header, version 1 or 2, from r and returns it.
//
// For a valid header, Read asks r only for bytes of the header: it reads
// the signature a byte at a time (so, when the stream is not a header, it
// asks for nothing after the first byte that says so), a version 1 line in
// pieces no longer than what is left of the shortest valid line, and a
// version 2 header as its fixed part and then its declared length. What
// follows the header stays in r. Read buffers at most MaxHeaderLen bytes,
// and checks a declared length before it reads or allocates for it.
//
// Version 1 is parsed strictly: single spaces, addresses of the announced
// family (IPv4 without leading zeros, IPv6 without zone), decimal ports in
// 0-65535 without sign or leading zero, CRLF, at most MaxV1Len bytes; the
// rest of an "UNKNOWN" line is ignored. Version 2 takes the PROXY command
// with TCP over IPv4 or IPv6, a Unix stream, or AF_UNSPEC (then Local); a
// datagram protocol, as any unassigned value, is ErrInvalid. For the LOCAL
// command the family is ignored. The bytes after the address block must be
// whole TLVs; when a LOCAL header's family is unassigned, or its length too
// short for its family, the whole block is skipped instead.
//
// Errors: a *NoHeaderError (errors.Is(err, ErrNoHeader)) if the stream does
// not start with a signature; ErrInvalid, wrapped with the reason, if the
// header is malformed or over this package's bounds; otherwise r's error,
// wrapped: io.EOF if r ended before its first byte, io.ErrUnexpectedEOF if
// it ended within the header (after what came is found valid so far). On
// any error the caller must drop the connection.
func Read(r io.Reader) (*Header, error) {
	var buf [MaxV1Len]byte // the signature, then a v1 line or a v2 fixed part
	for n := 0; ; n++ {
		if _, err := io.ReadFull(r, buf[n:n+1]); err != nil {
			if n > 0 {
				return nil, ioErr(err)
			}
			return nil, fmt.Errorf("proxyproto: reading header: %w", err)
		}
		switch yes, maybe := HasSignature(buf[:n+1]); {
		case yes && buf[0] == v1Sig[0]:
			return readV1(r, buf[:n+1])
		case yes:
			return readV2(r, buf[:n+1])
		case !maybe:
			return nil, &NoHeaderError{Seen: bytes.Clone(buf[:n+1])}
		}
	}
}

// ioErr wraps an error from a reader, io.EOF becoming io.ErrUnexpectedEOF:
// it is met within a header.
func ioErr(err error) error {
	if err == nil {
		return nil
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("proxyproto: reading header: %w", err)
}

// readMore appends to line up to need bytes from r (line has the
// capacity), and returns the longer line with r's error, through ioErr, if
// fewer came: the caller checks what came before it reports the error.
func readMore(r io.Reader, line []byte, need int) ([]byte, error) {
	n := len(line)
	got, err := io.ReadFull(r, line[n:n+need])
	return line[:n+got], ioErr(err)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// readV1 reads the rest of a version 1 line, whose "PROXY" is in line (of
// capacity MaxV1Len).
func readV1(r io.Reader, line []byte) (*Header, error) {
	// " UNKNOWN\r\n" is the shortest rest of a line, so reading 5 bytes
	// (" TCP4", " TCP6" or " UNKN"), then "OWN", cannot overrun.
	line, err := readMore(r, line, 5)
	if err == nil && string(line[len(v1Sig):]) == " UNKN" {
		line, err = readMore(r, line, 3)
	}
	var addrMin int // the shortest address in the family's text
	v6 := false
	switch proto := string(line[len(v1Sig):]); {
	case proto == " TCP4":
		addrMin = len("0.0.0.0")
	case proto == " TCP6":
		addrMin, v6 = len("::"), true
	case proto == " UNKNOWN":
		return readV1Unknown(r, line)
	case err != nil && (strings.HasPrefix(" TCP4", proto) || strings.HasPrefix(" TCP6", proto) ||
		strings.HasPrefix(" UNKNOWN", proto)):
		return nil, err
	default:
		return nil, invalid("v1: unknown protocol in %q", line)
	}

	// The rest is " src dst sport dport\r\n". Read no more than its
	// shortest valid completion, and reject as soon as no valid line fits.
	start := len(line)
	for {
		need := v1Need(line[start:], addrMin)
		if need == 0 {
			return parseV1(line)
		}
		if len(line)+need > MaxV1Len {
			return nil, invalid("v1: line longer than %d bytes: %q...", MaxV1Len, line)
		}
		n := len(line)
		line, err = readMore(r, line, need)
		for i := n; i < len(line); i++ {
			c, prev := line[i], line[i-1]
			switch {
			case !v1Char(c, v6):
				return nil, invalid("v1: unexpected byte %q in %q", c, line)
			case c == '\n' && (prev != '\r' || i != n+need-1), prev == '\r' && c != '\n':
				// A CRLF before the end of what need asked for ends a
				// line shorter than any valid one.
				return nil, invalid("v1: bad line end in %q", line)
			case c == ' ' && (prev == ' ' || bytes.Count(line[start:i], []byte(" ")) == 4),
				i == start && c != ' ':
				return nil, invalid("v1: want 4 fields separated by single spaces in %q", line)
			}
		}
		if err != nil {
			return nil, err
		}
	}
}

// v1Char reports whether c may appear after "PROXY TCP4" (or "TCP6").
func v1Char(c byte, v6 bool) bool {
	switch {
	case '0' <= c && c <= '9', c == '.', c == ' ', c == '\r', c == '\n':
		return true
	case 'a' <= c && c <= 'f', 'A' <= c && c <= 'F', c == ':':
		return v6
	}
	return false
}

// v1Need returns how many more bytes the shortest valid completion of the
// fields part of a TCP line, tail (" src dst sport dport\r\n" so far),
// needs: 0 once tail ends with LF. tail holds no CR or LF but at its end.
func v1Need(tail []byte, addrMin int) int {
	switch {
	case len(tail) > 0 && tail[len(tail)-1] == '\n':
		return 0
	case len(tail) > 0 && tail[len(tail)-1] == '\r':
		return 1
	}
	mins := [4]int{addrMin, addrMin, 1, 1}  // shortest src, dst, sport, dport
	field := bytes.Count(tail, []byte(" ")) // 1-based index of the field in progress
	need := 2                               // CRLF
	for f := field + 1; f <= len(mins); f++ {
		need += 1 + mins[f-1]
	}
	if field >= 1 && field <= len(mins) {
		cur := len(tail) - 1 - bytes.LastIndexByte(tail, ' ')
		need += max(0, mins[field-1]-cur)
	}
	return need
}

// readV1Unknown reads the rest of a "PROXY UNKNOWN" line, whose content
// the specification says to ignore, up to its CRLF.
func readV1Unknown(r io.Reader, line []byte) (*Header, error) {
	start := len(line)
	for {
		need := 2
		if n := len(line); n > start {
			switch {
			case line[n-1] == '\n':
				return &Header{Version: 1, Local: true}, nil
			case line[n-1] == '\r':
				need = 1
			}
		}
		if len(line)+need > MaxV1Len {
			return nil, invalid("v1: line longer than %d bytes: %q...", MaxV1Len, line)
		}
		n := len(line)
		var err error
		line, err = readMore(r, line, need)
		for i := n; i < len(line); i++ {
			c, prev := line[i], line[i-1]
			if i == start && c != ' ' && c != '\r' {
				return nil, invalid("v1: unknown protocol in %q", line)
			}
			if c == '\n' && (prev != '\r' || i != n+need-1) || prev == '\r' && c != '\n' {
				return nil, invalid("v1: bad line end in %q", line)
			}
		}
		if err != nil {
			return nil, err
		}
	}
}

// parseV1 parses a complete "PROXY TCP4 ..." or "PROXY TCP6 ..." line.
func parseV1(line []byte) (*Header, error) {
	s := string(line[len("PROXY TCP4 ") : len(line)-2])
	v6 := line[len("PROXY TCP")] == '6'
	var fields [4]string
	for i := range fields {
		f, rest, found := strings.Cut(s, " ")
		if found != (i < len(fields)-1) || f == "" {
			return nil, invalid("v1: want 4 fields separated by single spaces in %q", line)
		}
		fields[i], s = f, rest
	}
	var addrs [2]netip.Addr
	for i := range addrs {
		a, err := netip.ParseAddr(fields[i])
		// ParseAddr rejects IPv4 octets with leading zeros; Is4 tells the
		// family (::ffff:a.b.c.d is IPv6); v1Char has rejected '%' (a zone).
		if err != nil || a.Is4() == v6 {
			return nil, invalid("v1: bad address %q for %s", fields[i], line[len("PROXY "):len("PROXY TCP4")])
		}
		addrs[i] = a
	}
	var ports [2]uint16
	for i := range ports {
		f := fields[2+i]
		p, err := strconv.ParseUint(f, 10, 16)
		if err != nil || f[0] < '0' || f[0] > '9' || f[0] == '0' && len(f) > 1 {
			return nil, invalid("v1: bad port %q", f)
		}
		ports[i] = uint16(p)
	}
	return &Header{
		Version: 1,
		Source:  net.TCPAddrFromAddrPort(netip.AddrPortFrom(addrs[0], ports[0])),
		Dest:    net.TCPAddrFromAddrPort(netip.AddrPortFrom(addrs[1], ports[1])),
	}, nil
}

// addrBlockLen returns the size of the address block of a version 2 family
// and protocol byte, and false for bytes the specification does not define.
func addrBlockLen(fam byte) (int, bool) {
	switch fam {
	case famUnspec:
		return 0, true
	case famTCP4, famUDP4:
		return 12, true
	case famTCP6, famUDP6:
		return 36, true
	case famUnix, famUnixgram:
		return unixBlockLen, true
	}
	return 0, false
}

// readV2 reads the rest of a version 2 header, whose signature is in
// fixed (of capacity v2FixedLen or more).
func readV2(r io.Reader, fixed []byte) (*Header, error) {
	fixed, err := readMore(r, fixed, v2FixedLen-len(fixed))
	if err != nil {
		return nil, err
	}
	verCmd, fam := fixed[12], fixed[13]
	length := int(binary.BigEndian.Uint16(fixed[14:]))
	if verCmd>>4 != 2 {
		return nil, invalid("v2: version %d", verCmd>>4)
	}
	cmd := verCmd & 0xf
	blockLen, known := addrBlockLen(fam)
	limit, hasTLVs := blockLen+MaxTLVLen, true
	switch {
	case cmd != cmdLocal && cmd != cmdProxy:
		return nil, invalid("v2: command %#x", cmd)
	case cmd == cmdLocal && (!known || length < blockLen):
		// The family is to be ignored, and the block is not one this
		// package can split into addresses and TLVs: skip it whole.
		blockLen, limit, hasTLVs = length, unixBlockLen+MaxTLVLen, false
	case cmd == cmdLocal:
	case !known:
		return nil, invalid("v2: address family and protocol %#04x", fam)
	case fam == famUDP4 || fam == famUDP6 || fam == famUnixgram:
		return nil, invalid("v2: datagram protocol %#04x on a stream", fam)
	case length < blockLen:
		return nil, invalid("v2: length %d under the %d of family %#04x", length, blockLen, fam)
	}
	if length > limit {
		return nil, invalid("v2: length %d over %d for family %#04x", length, limit, fam)
	}

	hdr := make([]byte, v2FixedLen+length)
	copy(hdr, fixed)
	if _, err := readMore(r, hdr[:v2FixedLen], length); err != nil {
		return nil, err
	}
	h := &Header{Version: 2, Local: cmd == cmdLocal || fam == famUnspec}
	block := hdr[v2FixedLen : v2FixedLen+blockLen]
	if !h.Local {
		h.Source, h.Dest = v2Addrs(fam, block)
	}
	if !hasTLVs {
		return h, nil
	}
	if h.TLVs, err = parseTLVs(hdr, v2FixedLen+blockLen); err != nil {
		return nil, err
	}
	return h, nil
}

// v2Addrs decodes the address block of a STREAM family.
func v2Addrs(fam byte, b []byte) (src, dst net.Addr) {
	switch fam {
	case famTCP4:
		return &net.TCPAddr{IP: net.IP(b[0:4:4]), Port: int(binary.BigEndian.Uint16(b[8:]))},
			&net.TCPAddr{IP: net.IP(b[4:8:8]), Port: int(binary.BigEndian.Uint16(b[10:]))}
	case famTCP6:
		return &net.TCPAddr{IP: net.IP(b[0:16:16]), Port: int(binary.BigEndian.Uint16(b[32:]))},
			&net.TCPAddr{IP: net.IP(b[16:32:32]), Port: int(binary.BigEndian.Uint16(b[34:]))}
	default: // famUnix
		return &net.UnixAddr{Net: "unix", Name: unixName(b[:unixPathLen])},
			&net.UnixAddr{Net: "unix", Name: unixName(b[unixPathLen:])}
	}
}

// unixName decodes a sun_path: the bytes up to the first NUL; or, if it
// starts with NUL (a Linux abstract socket), '@' and the rest less its
// trailing NULs; "" if all NUL.
func unixName(p []byte) string {
	if p[0] == 0 {
		p = bytes.TrimRight(p[1:], "\x00")
		if len(p) == 0 {
			return ""
		}
		return "@" + string(p)
	}
	if i := bytes.IndexByte(p, 0); i >= 0 {
		p = p[:i]
	}
	return string(p)
}

// parseTLVs parses the TLVs in hdr[off:], which must hold whole TLVs and
// nothing else, and checks a CRC32C TLV against hdr.
func parseTLVs(hdr []byte, off int) ([]TLV, error) {
	n := 0
	for i := off; i < len(hdr); n++ {
		if len(hdr)-i < 3 {
			return nil, invalid("v2: %d trailing bytes are not a TLV", len(hdr)-i)
		}
		l := int(binary.BigEndian.Uint16(hdr[i+1:]))
		if len(hdr)-i-3 < l {
			return nil, invalid("v2: TLV type %#04x of length %d overruns the header by %d", hdr[i], l, l-(len(hdr)-i-3))
		}
		i += 3 + l
	}
	if n == 0 {
		return nil, nil
	}
	tlvs := make([]TLV, 0, n)
	crcAt := -1
	for i := off; i < len(hdr); {
		l := int(binary.BigEndian.Uint16(hdr[i+1:]))
		tlvs = append(tlvs, TLV{Type: hdr[i], Value: hdr[i+3 : i+3+l : i+3+l]})
		if hdr[i] == tlvCRC32C {
			if crcAt >= 0 || l != 4 {
				return nil, invalid("v2: CRC32C TLV of length %d, or repeated", l)
			}
			crcAt = i + 3
		}
		i += 3 + l
	}
	if crcAt >= 0 {
		var want [4]byte
		copy(want[:], hdr[crcAt:])
		clear(hdr[crcAt : crcAt+4])
		got := crc32.Checksum(hdr, castagnoli)
		copy(hdr[crcAt:], want[:])
		if got != binary.BigEndian.Uint32(want[:]) {
			return nil, invalid("v2: CRC32C %#08x, header's is %#08x", got, binary.BigEndian.Uint32(want[:]))
		}
	}
	return tlvs, nil
}

// AppendV1 appends to b the version 1 line for a TCP connection from src to
// dest and returns the extended slice: TCP4 if both addresses are IPv4 (in
// either form), else TCP6 (an IPv4 address as ::ffff:a.b.c.d); "PROXY
// UNKNOWN\r\n" if either is nil. Zones are dropped. It panics on an IP
// that is neither 4 nor 16 bytes, or a port outside 0-65535. It is meant
// for tests and for senders.
func AppendV1(b []byte, src, dest *net.TCPAddr) []byte {
	if src == nil || dest == nil {
		return append(b, "PROXY UNKNOWN\r\n"...)
	}
	v4 := src.IP.To4() != nil && dest.IP.To4() != nil
	if v4 {
		b = append(b, "PROXY TCP4"...)
	} else {
		b = append(b, "PROXY TCP6"...)
	}
	for _, a := range [...]*net.TCPAddr{src, dest} {
		b = append(b, ' ')
		b = tcpAddrPort(a, v4).Addr().AppendTo(b)
	}
	for _, a := range [...]*net.TCPAddr{src, dest} {
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(tcpAddrPort(a, v4).Port()), 10)
	}
	return append(b, "\r\n"...)
}

// tcpAddrPort converts a, as IPv4 if v4, else as IPv6; it panics on what
// cannot be.
func tcpAddrPort(a *net.TCPAddr, v4 bool) netip.AddrPort {
	if a.Port < 0 || a.Port > 0xffff {
		panic(fmt.Sprintf("proxyproto: port %d out of range", a.Port))
	}
	var ip netip.Addr
	if v4 {
		ip = netip.AddrFrom4([4]byte(a.IP.To4()))
	} else if a16 := a.IP.To16(); a16 != nil {
		ip = netip.AddrFrom16([16]byte(a16))
	} else {
		panic(fmt.Sprintf("proxyproto: IP %v of length %d", a.IP, len(a.IP)))
	}
	return netip.AddrPortFrom(ip, uint16(a.Port))
}

// AppendV2 appends to b the version 2 header for h and returns the extended
// slice; h.Version is ignored. If h.Local it writes a LOCAL command with
// AF_UNSPEC and no addresses; else a PROXY command whose family follows
// Source and Dest: two *net.TCPAddr (TCP over IPv4 if both are IPv4, in
// either form, else over IPv6) or two *net.UnixAddr (a name starting with
// '@' is an abstract socket, as in package net: a filesystem path starting
// with '@' does not survive Read and AppendV2). The TLVs follow, in order; a CRC32C TLV (type
// 0x03, any 4-byte value) gets the header's checksum.
//
// It panics on what Read would reject: other address types, a Unix name
// over 108 bytes, a bad IP or port, TLVs over MaxTLVLen bytes, two CRC32C
// TLVs. It is meant for tests and for senders.
func AppendV2(b []byte, h *Header) []byte {
	start := len(b)
	b = append(b, v2Sig...)
	fam := byte(famUnspec)
	if h.Local {
		b = append(b, 0x20|cmdLocal, fam, 0, 0)
	} else {
		b = append(b, 0x20|cmdProxy, fam, 0, 0)
		switch src := h.Source.(type) {
		case *net.TCPAddr:
			dest, ok := h.Dest.(*net.TCPAddr)
			if !ok || src == nil || dest == nil {
				panic(fmt.Sprintf("proxyproto: AppendV2 of %T and %T", h.Source, h.Dest))
			}
			v4 := src.IP.To4() != nil && dest.IP.To4() != nil
			s, d := tcpAddrPort(src, v4), tcpAddrPort(dest, v4)
			fam = famTCP6
			if v4 {
				fam = famTCP4
			}
			b = append(b, s.Addr().AsSlice()...)
			b = append(b, d.Addr().AsSlice()...)
			b = binary.BigEndian.AppendUint16(b, s.Port())
			b = binary.BigEndian.AppendUint16(b, d.Port())
		case *net.UnixAddr:
			dest, ok := h.Dest.(*net.UnixAddr)
			if !ok || src == nil || dest == nil {
				panic(fmt.Sprintf("proxyproto: AppendV2 of %T and %T", h.Source, h.Dest))
			}
			fam = famUnix
			for _, a := range [...]*net.UnixAddr{src, dest} {
				name := a.Name
				if len(name) > 0 && name[0] == '@' {
					name = "\x00" + name[1:]
				}
				if len(name) > unixPathLen {
					panic(fmt.Sprintf("proxyproto: Unix name %q over %d bytes", a.Name, unixPathLen))
				}
				b = append(b, name...)
				b = append(b, make([]byte, unixPathLen-len(name))...)
			}
		default:
			panic(fmt.Sprintf("proxyproto: AppendV2 of %T and %T", h.Source, h.Dest))
		}
		b[start+13] = fam
	}
	tlvStart, crcAt := len(b), -1
	for _, t := range h.TLVs {
		if len(t.Value) > 0xffff {
			panic(fmt.Sprintf("proxyproto: TLV type %#04x of %d bytes", t.Type, len(t.Value)))
		}
		b = append(b, t.Type)
		b = binary.BigEndian.AppendUint16(b, uint16(len(t.Value)))
		if t.Type == tlvCRC32C {
			if crcAt >= 0 || len(t.Value) != 4 {
				panic("proxyproto: CRC32C TLV not of 4 bytes, or repeated")
			}
			crcAt = len(b)
			b = append(b, 0, 0, 0, 0)
			continue
		}
		b = append(b, t.Value...)
	}
	if len(b)-tlvStart > MaxTLVLen {
		panic(fmt.Sprintf("proxyproto: %d bytes of TLVs, over %d", len(b)-tlvStart, MaxTLVLen))
	}
	binary.BigEndian.PutUint16(b[start+14:], uint16(len(b)-start-v2FixedLen))
	if crcAt >= 0 {
		binary.BigEndian.PutUint32(b[crcAt:], crc32.Checksum(b[start:], castagnoli))
	}
	return b
}
