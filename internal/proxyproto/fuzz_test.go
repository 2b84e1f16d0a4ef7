package proxyproto

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"testing/iotest"
)

// outcome classifies Read's result for comparing two runs.
func outcome(h *Header, err error) string {
	var nh *NoHeaderError
	switch {
	case err == nil:
		return describe(h)
	case errors.As(err, &nh):
		return "no header " + string(nh.Seen)
	case errors.Is(err, ErrInvalid):
		return "invalid"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated"
	case errors.Is(err, io.EOF):
		return "empty"
	}
	return "other: " + err.Error()
}

// withoutCRC describes h with any CRC32C value blanked: re-encoding
// computes a new one.
func withoutCRC(h *Header) string {
	c := *h
	c.Version = 0
	c.TLVs = nil
	for _, t := range h.TLVs {
		if t.Type == tlvCRC32C {
			t.Value = nil
		}
		c.TLVs = append(c.TLVs, t)
	}
	return describe(&c)
}

// FuzzRead checks that Read does not panic, asks for no byte past the
// header (or past the byte that rules a header out), stays within its
// bounds, gives the same result however r splits the stream, and that what
// it returns encodes back to the same header.
func FuzzRead(f *testing.F) {
	for _, tc := range validCases {
		f.Add(append(bytes.Clone(tc.in), trailer...))
	}
	for _, s := range []string{
		"", "GET / HTTP/1.1\r\n", "PROXY", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
		"PROXY TCP6 ::ffff:1.2.3.4 ::1 65535 0\r\n", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY UNKNOWN\rX", "PROXY TCP4 1.2.3.4 5.6.7.8 1 02\r\n",
		v2Sig, v2Sig + "\x21\x11\xff\xff", v2Sig + "\x20\x00\x00\x03\x03\x00\x04",
		string(v2(0x21, 0x11, -1, ip4Block, tlv(0x03, "abcd"))),
		string(v2(0x21, 0x31, -1, unixBlock("\x00\x00x", "/a\x00b"))),
		string(v2(0x21, 0x31, -1, unixBlock("x", "@"))),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &strictReader{data: data}
		h, err := Read(r)
		got := outcome(h, err)
		if one := outcome(Read(iotest.OneByteReader(bytes.NewReader(data)))); one != got {
			t.Fatalf("read whole: %s\nbyte by byte: %s", got, one)
		}
		if r.reach > MaxHeaderLen {
			t.Fatalf("asked for %d bytes, over %d", r.reach, MaxHeaderLen)
		}
		var nh *NoHeaderError
		switch {
		case err == nil:
			n := r.off
			if r.reach > n {
				t.Fatalf("asked for %d bytes of a %d-byte header", r.reach, n)
			}
			if h.Version == 1 && n > MaxV1Len || h.Version != 1 && h.Version != 2 {
				t.Fatalf("v%d header of %d bytes", h.Version, n)
			}
			if yes, _ := HasSignature(data); !yes {
				t.Fatalf("header without a signature: %q", data[:n])
			}
			tlvLen := 0
			for _, tv := range h.TLVs {
				tlvLen += 3 + len(tv.Value)
			}
			if tlvLen > MaxTLVLen || h.Version == 1 && h.TLVs != nil {
				t.Fatalf("TLVs of %d bytes in v%d", tlvLen, h.Version)
			}
			if h.Local != (h.Source == nil) || h.Local != (h.Dest == nil) {
				t.Fatalf("Local and addresses disagree: %s", describe(h))
			}
			// Encoded again, the header reads the same; but for a Unix path
			// that starts with '@', which AppendV2 takes for an abstract
			// name, as package net does.
			h2, err := Read(bytes.NewReader(AppendV2(nil, h)))
			if err != nil || withoutCRC(h2) != withoutCRC(h) && !atPath(h.Source) && !atPath(h.Dest) {
				t.Fatalf("AppendV2 of %s reads as %s, %v", describe(h), describe(h2), err)
			}
			src, _ := h.Source.(*net.TCPAddr)
			dst, _ := h.Dest.(*net.TCPAddr)
			if h.Local || src != nil {
				h1, err := Read(bytes.NewReader(AppendV1(nil, src, dst)))
				if err != nil || h1.Local != h.Local || !h.Local && (!sameTCP(h1.Source, src) || !sameTCP(h1.Dest, dst)) {
					t.Fatalf("AppendV1 of %s reads as %s, %v", describe(h), describe(h1), err)
				}
			}
		case errors.As(err, &nh):
			k := len(nh.Seen)
			if r.off != k || r.reach != k || !bytes.HasPrefix(data, nh.Seen) {
				t.Fatalf("seen %q, consumed %d, asked for %d", nh.Seen, r.off, r.reach)
			}
			if yes, maybe := HasSignature(nh.Seen); yes || maybe {
				t.Fatalf("no header, but HasSignature(%q) = %v, %v", nh.Seen, yes, maybe)
			}
			if _, maybe := HasSignature(nh.Seen[:k-1]); !maybe {
				t.Fatalf("read past %q, which rules out a header", nh.Seen[:k-1])
			}
		case got == "truncated" || got == "empty":
			if r.off != len(data) {
				t.Fatalf("%s with %d of %d bytes consumed", got, r.off, len(data))
			}
		case got != "invalid":
			t.Fatalf("unexpected error %v", err)
		}
	})
}

// atPath reports a Unix name that starts with '@'.
func atPath(a net.Addr) bool {
	u, ok := a.(*net.UnixAddr)
	return ok && len(u.Name) > 0 && u.Name[0] == '@'
}
