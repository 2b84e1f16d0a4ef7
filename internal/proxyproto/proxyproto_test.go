package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// strictReader serves data and records the furthest byte any Read asked
// for: on a socket, a Read with a larger buffer than what is left of the
// header may take the application's data.
type strictReader struct {
	data  []byte
	off   int // bytes consumed
	reach int // the largest off+len(p) of any Read
}

func (r *strictReader) Read(p []byte) (int, error) {
	r.reach = max(r.reach, r.off+len(p))
	if r.off == len(r.data) {
		return 0, io.EOF
	}
	n := copy(p, r.data[r.off:])
	r.off += n
	return n, nil
}

// describe renders a header for comparison: addresses by their String
// (which shows an IPv4 address the same in its 4- and 16-byte forms).
func describe(h *Header) string {
	if h == nil {
		return "<nil>"
	}
	addr := func(a net.Addr) string {
		if a == nil {
			return "-"
		}
		return a.Network() + "/" + a.String()
	}
	var tlvs []string
	for _, t := range h.TLVs {
		tlvs = append(tlvs, fmt.Sprintf("%02x:%x", t.Type, t.Value))
	}
	return fmt.Sprintf("v%d local=%v src=%s dst=%s tlvs=[%s]", h.Version, h.Local, addr(h.Source), addr(h.Dest), strings.Join(tlvs, " "))
}

// v2 builds a raw version 2 header: ver_cmd, fam, then payload with its
// own length (or length, if >= 0, whatever the payload).
func v2(verCmd, fam byte, length int, payload ...[]byte) []byte {
	p := bytes.Join(payload, nil)
	if length < 0 {
		length = len(p)
	}
	b := append([]byte(v2Sig), verCmd, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(length))
	return append(b, p...)
}

func tlv(typ byte, value string) []byte {
	b := []byte{typ}
	b = binary.BigEndian.AppendUint16(b, uint16(len(value)))
	return append(b, value...)
}

var (
	ip4Block = []byte{192, 0, 2, 1, 198, 51, 100, 7, 0xdc, 0x04, 0x01, 0xbb} // 192.0.2.1:56324 -> 198.51.100.7:443
	ip6Block = append(append(append(
		[]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1},
		[]byte{15: 1}...),
		0xff, 0xff), 0x00, 0x50) // [2001:db8::1]:65535 -> [::1]:80
)

func unixBlock(src, dst string) []byte {
	b := make([]byte, unixBlockLen)
	copy(b, src)
	copy(b[unixPathLen:], dst)
	return b
}

// withCRC sets the CRC32C of a raw header whose checksum TLV value is at
// its end.
func withCRC(b []byte) []byte {
	b = bytes.Clone(b)
	clear(b[len(b)-4:])
	binary.BigEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b, castagnoli))
	return b
}

const v6Max = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"

var validCases = []struct {
	name string
	in   []byte
	want string
}{
	{"v1 TCP4", []byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"),
		"v1 local=false src=tcp/192.168.0.1:56324 dst=tcp/192.168.0.11:443 tlvs=[]"},
	{"v1 TCP4 longest", []byte("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"),
		"v1 local=false src=tcp/255.255.255.255:65535 dst=tcp/255.255.255.255:65535 tlvs=[]"},
	{"v1 TCP4 shortest", []byte("PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n"),
		"v1 local=false src=tcp/0.0.0.0:0 dst=tcp/0.0.0.0:0 tlvs=[]"},
	{"v1 TCP6", []byte("PROXY TCP6 2001:db8::1 ::1 1 65535\r\n"),
		"v1 local=false src=tcp/[2001:db8::1]:1 dst=tcp/[::1]:65535 tlvs=[]"},
	{"v1 TCP6 upper case", []byte("PROXY TCP6 2001:DB8::A :: 10 20\r\n"),
		"v1 local=false src=tcp/[2001:db8::a]:10 dst=tcp/[::]:20 tlvs=[]"},
	{"v1 TCP6 longest", []byte("PROXY TCP6 " + v6Max + " " + v6Max + " 65535 65535\r\n"),
		"v1 local=false src=tcp/[" + v6Max + "]:65535 dst=tcp/[" + v6Max + "]:65535 tlvs=[]"},
	{"v1 TCP6 v4-mapped", []byte("PROXY TCP6 ::ffff:192.0.2.1 ::1 80 81\r\n"),
		"v1 local=false src=tcp/192.0.2.1:80 dst=tcp/[::1]:81 tlvs=[]"},
	{"v1 UNKNOWN short", []byte("PROXY UNKNOWN\r\n"), "v1 local=true src=- dst=- tlvs=[]"},
	{"v1 UNKNOWN longest", []byte("PROXY UNKNOWN " + v6Max + " " + v6Max + " 65535 65535\r\n"),
		"v1 local=true src=- dst=- tlvs=[]"},
	{"v1 UNKNOWN content ignored", []byte("PROXY UNKNOWN whatever\x00 it says\r\n"), "v1 local=true src=- dst=- tlvs=[]"},

	{"v2 TCP4", v2(0x21, 0x11, -1, ip4Block),
		"v2 local=false src=tcp/192.0.2.1:56324 dst=tcp/198.51.100.7:443 tlvs=[]"},
	{"v2 TCP4 TLVs", v2(0x21, 0x11, -1, ip4Block, tlv(0x01, "h2"), tlv(0x04, ""), tlv(0xea, "vpce-0123")),
		"v2 local=false src=tcp/192.0.2.1:56324 dst=tcp/198.51.100.7:443 tlvs=[01:6832 04: ea:767063652d30313233]"},
	{"v2 TCP4 CRC32C", withCRC(v2(0x21, 0x11, -1, ip4Block, tlv(0x02, "example.com"), tlv(0x03, "\x00\x00\x00\x00"))),
		""}, // checked below: the value is the checksum
	{"v2 TCP6", v2(0x21, 0x21, -1, ip6Block),
		"v2 local=false src=tcp/[2001:db8::1]:65535 dst=tcp/[::1]:80 tlvs=[]"},
	{"v2 TCP6 TLV", v2(0x21, 0x21, -1, ip6Block, tlv(0x05, "id")),
		"v2 local=false src=tcp/[2001:db8::1]:65535 dst=tcp/[::1]:80 tlvs=[05:6964]"},
	{"v2 Unix", v2(0x21, 0x31, -1, unixBlock("/run/client.sock", "/run/haproxy.sock")),
		"v2 local=false src=unix//run/client.sock dst=unix//run/haproxy.sock tlvs=[]"},
	{"v2 Unix abstract and unnamed", v2(0x21, 0x31, -1, unixBlock("\x00abs", ""), tlv(0x30, "ns")),
		"v2 local=false src=unix/@abs dst=unix/ tlvs=[30:6e73]"},
	{"v2 Unix full path", v2(0x21, 0x31, -1, unixBlock(strings.Repeat("a", 108), "b")),
		"v2 local=false src=unix/" + strings.Repeat("a", 108) + " dst=unix/b tlvs=[]"},
	{"v2 LOCAL", v2(0x20, 0x00, -1), "v2 local=true src=- dst=- tlvs=[]"},
	{"v2 LOCAL TLVs", v2(0x20, 0x00, -1, tlv(0x05, "abc"), tlv(0x04, "\x00\x00")),
		"v2 local=true src=- dst=- tlvs=[05:616263 04:0000]"},
	{"v2 LOCAL family, no addresses", v2(0x20, 0x11, -1), "v2 local=true src=- dst=- tlvs=[]"},
	{"v2 LOCAL addresses ignored", v2(0x20, 0x21, -1, ip6Block, tlv(0xe0, "x")),
		"v2 local=true src=- dst=- tlvs=[e0:78]"},
	{"v2 LOCAL short block skipped", v2(0x20, 0x11, -1, []byte{1, 2, 3}), "v2 local=true src=- dst=- tlvs=[]"},
	{"v2 LOCAL unknown family skipped", v2(0x20, 0x45, -1, []byte("anything")), "v2 local=true src=- dst=- tlvs=[]"},
	{"v2 LOCAL datagram", v2(0x20, 0x12, -1, ip4Block), "v2 local=true src=- dst=- tlvs=[]"},
	{"v2 PROXY UNSPEC", v2(0x21, 0x00, -1, tlv(0x01, "x")), "v2 local=true src=- dst=- tlvs=[01:78]"},
	{"v2 TLVs at the bound", v2(0x21, 0x11, -1, ip4Block, tlv(0xe1, strings.Repeat("z", MaxTLVLen-3))), ""},
	{"v2 LOCAL at the bound", v2(0x20, 0x77, -1, make([]byte, unixBlockLen+MaxTLVLen)), "v2 local=true src=- dst=- tlvs=[]"},
}

// trailer follows every header: Read must leave it.
const trailer = "GET / HTTP/1.1\r\n\r\n"

func TestReadValid(t *testing.T) {
	for _, tc := range validCases {
		t.Run(tc.name, func(t *testing.T) {
			r := &strictReader{data: append(bytes.Clone(tc.in), trailer...)}
			h, err := Read(r)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if tc.want != "" {
				if got := describe(h); got != tc.want {
					t.Errorf("got  %s\nwant %s", got, tc.want)
				}
			}
			if r.off != len(tc.in) || r.reach > len(tc.in) {
				t.Errorf("consumed %d bytes and asked for up to %d, header is %d", r.off, r.reach, len(tc.in))
			}
			if rest, _ := io.ReadAll(r); string(rest) != trailer {
				t.Errorf("left %q, want %q", rest, trailer)
			}
			// The same through a reader that gives a byte at a time.
			h1, err := Read(iotest.OneByteReader(bytes.NewReader(tc.in)))
			if err != nil || describe(h1) != describe(h) {
				t.Errorf("one byte at a time: %s, %v", describe(h1), err)
			}
		})
	}
}

func TestReadCRC32C(t *testing.T) {
	in := withCRC(v2(0x21, 0x11, -1, ip4Block, tlv(0x02, "example.com"), tlv(0x03, "\x00\x00\x00\x00")))
	h, err := Read(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.TLVs) != 2 || h.TLVs[1].Type != 0x03 || !bytes.Equal(h.TLVs[1].Value, in[len(in)-4:]) {
		t.Errorf("TLVs %v", h.TLVs)
	}
	in[len(in)-1] ^= 1
	if _, err := Read(bytes.NewReader(in)); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad checksum: %v", err)
	}
}

func TestReadInvalid(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want error // ErrInvalid or io.ErrUnexpectedEOF
	}{
		{"v1 too long UNKNOWN", []byte("PROXY UNKNOWN " + strings.Repeat("x", 100) + "\r\n"), ErrInvalid},
		{"v1 too long UNKNOWN by one", []byte("PROXY UNKNOWN " + v6Max + " " + v6Max + " 65535 655351\r\n"), ErrInvalid},
		{"v1 too long TCP6", []byte("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 65535 65535\r\n"), ErrInvalid},
		{"v1 endless digits", []byte("PROXY TCP4 1.1.1.1 2.2.2.2 1 " + strings.Repeat("1", 200)), ErrInvalid},
		{"v1 missing CR", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), ErrInvalid},
		{"v1 missing LF", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX"), ErrInvalid},
		{"v1 CR inside", []byte("PROXY TCP4 1.2.3.4\r 5.6.7.8 1 2\r\n"), ErrInvalid},
		{"v1 UNKNOWN missing CR", []byte("PROXY UNKNOWN\n"), ErrInvalid},
		{"v1 UNKNOWN lone LF inside", []byte("PROXY UNKNOWN a\nb\r\n"), ErrInvalid},
		{"v1 UNKNOWN lone CR inside", []byte("PROXY UNKNOWN a\rb\r\n"), ErrInvalid},
		{"v1 UNKNOWNX", []byte("PROXY UNKNOWNX\r\n"), ErrInvalid},
		{"v1 no space after PROXY", []byte("PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n"), ErrInvalid},
		{"v1 TCP5", []byte("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"), ErrInvalid},
		{"v1 UDP4", []byte("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"), ErrInvalid},
		{"v1 lower case", []byte("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n"), ErrInvalid},
		{"v1 UNKNOWM", []byte("PROXY UNKNOWM\r\n"), ErrInvalid},
		{"v1 TCP6 glued", []byte("PROXY TCP6::1 ::1 1 2\r\n"), ErrInvalid},
		{"v1 double space", []byte("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n"), ErrInvalid},
		{"v1 tab", []byte("PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n"), ErrInvalid},
		{"v1 trailing space", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"), ErrInvalid},
		{"v1 five fields", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), ErrInvalid},
		{"v1 three fields", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), ErrInvalid},
		{"v1 IPv4 octet over 255", []byte("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n"), ErrInvalid},
		{"v1 IPv4 leading zero", []byte("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n"), ErrInvalid},
		{"v1 IPv4 three octets", []byte("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"), ErrInvalid},
		{"v1 IPv6 in TCP4", []byte("PROXY TCP4 ::1 5.6.7.8 1 2\r\n"), ErrInvalid},
		{"v1 IPv4 in TCP6", []byte("PROXY TCP6 1.2.3.4 ::1 1 2\r\n"), ErrInvalid},
		{"v1 IPv6 zone", []byte("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"), ErrInvalid},
		{"v1 IPv6 bad", []byte("PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n"), ErrInvalid},
		{"v1 IPv6 two ::", []byte("PROXY TCP6 1::2::3 ::1 1 2\r\n"), ErrInvalid},
		{"v1 port over 65535", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"), ErrInvalid},
		{"v1 port 99999", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n"), ErrInvalid},
		{"v1 port plus", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n"), ErrInvalid},
		{"v1 port minus", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n"), ErrInvalid},
		{"v1 port leading zero", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n"), ErrInvalid},
		{"v1 port hex", []byte("PROXY TCP6 ::1 ::2 1a 2\r\n"), ErrInvalid},
		{"v1 port dotted", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1.0 2\r\n"), ErrInvalid},
		{"v1 truncated", []byte("PROXY TCP4 1.2.3.4"), io.ErrUnexpectedEOF},
		{"v1 truncated before CRLF", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2"), io.ErrUnexpectedEOF},
		{"v1 truncated UNKNOWN", []byte("PROXY UNKNOWN"), io.ErrUnexpectedEOF},
		{"v1 truncated signature", []byte("PROX"), io.ErrUnexpectedEOF},

		{"v2 truncated signature", []byte(v2Sig[:7]), io.ErrUnexpectedEOF},
		{"v2 truncated fixed part", []byte(v2Sig + "\x21\x11"), io.ErrUnexpectedEOF},
		{"v2 truncated addresses", v2(0x21, 0x11, 12, ip4Block[:5]), io.ErrUnexpectedEOF},
		{"v2 truncated TLVs", v2(0x21, 0x11, 20, ip4Block, tlv(1, "ab")), io.ErrUnexpectedEOF},
		{"v2 version 1", v2(0x11, 0x11, -1, ip4Block), ErrInvalid},
		{"v2 version 3", v2(0x31, 0x11, -1, ip4Block), ErrInvalid},
		{"v2 version 0", v2(0x01, 0x11, -1, ip4Block), ErrInvalid},
		{"v2 command 2", v2(0x22, 0x11, -1, ip4Block), ErrInvalid},
		{"v2 command 15", v2(0x2f, 0x00, -1), ErrInvalid},
		{"v2 UDP4", v2(0x21, 0x12, -1, ip4Block), ErrInvalid},
		{"v2 UDP6", v2(0x21, 0x22, -1, ip6Block), ErrInvalid},
		{"v2 Unix datagram", v2(0x21, 0x32, -1, unixBlock("a", "b")), ErrInvalid},
		{"v2 family 4", v2(0x21, 0x41, -1, ip4Block), ErrInvalid},
		{"v2 protocol 3", v2(0x21, 0x13, -1, ip4Block), ErrInvalid},
		{"v2 AF_INET UNSPEC protocol", v2(0x21, 0x10, -1, ip4Block), ErrInvalid},
		{"v2 AF_UNSPEC STREAM", v2(0x21, 0x01, -1), ErrInvalid},
		{"v2 length under IPv4", v2(0x21, 0x11, -1, ip4Block[:11]), ErrInvalid},
		{"v2 length under IPv6", v2(0x21, 0x21, -1, ip6Block[:35]), ErrInvalid},
		{"v2 length under Unix", v2(0x21, 0x31, -1, make([]byte, 215)), ErrInvalid},
		{"v2 TLVs over the bound", v2(0x21, 0x11, -1, ip4Block, tlv(0xe1, strings.Repeat("z", MaxTLVLen-2))), ErrInvalid},
		{"v2 length 65535", v2(0x21, 0x11, 65535), ErrInvalid},
		{"v2 LOCAL over the bound", v2(0x20, 0x00, unixBlockLen+MaxTLVLen+1), ErrInvalid},
		{"v2 LOCAL IPv4 TLVs over the bound", v2(0x20, 0x11, 12+MaxTLVLen+1), ErrInvalid},
		{"v2 trailing bytes", v2(0x21, 0x11, -1, ip4Block, []byte{1, 0}), ErrInvalid},
		{"v2 TLV overruns", v2(0x21, 0x11, -1, ip4Block, tlv(1, "abc")[:5]), ErrInvalid},
		{"v2 LOCAL TLV overruns", v2(0x20, 0x00, -1, tlv(1, "abc")[:4]), ErrInvalid},
		{"v2 PROXY UNSPEC not TLVs", v2(0x21, 0x00, -1, []byte("junk")), ErrInvalid},
		{"v2 CRC32C short", v2(0x21, 0x11, -1, ip4Block, tlv(3, "abc")), ErrInvalid},
		{"v2 CRC32C repeated", withCRC(v2(0x21, 0x11, -1, ip4Block, tlv(3, "abcd"), tlv(3, "abcd"))), ErrInvalid},
		{"v2 CRC32C wrong", v2(0x21, 0x11, -1, ip4Block, tlv(3, "abcd")), ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &strictReader{data: tc.in}
			h, err := Read(r)
			if !errors.Is(err, tc.want) || h != nil {
				t.Fatalf("Read: %s, %v; want %v", describe(h), err, tc.want)
			}
			if errors.Is(err, ErrNoHeader) || tc.want == io.ErrUnexpectedEOF && errors.Is(err, ErrInvalid) {
				t.Errorf("error %v also matches another class", err)
			}
			if r.reach > MaxHeaderLen || tc.in[0] == 'P' && r.reach > MaxV1Len {
				t.Errorf("asked for %d bytes", r.reach)
			}
		})
	}
}

// TestReadOversizeUnread checks that a length over the bounds is refused
// before the bytes it announces are read, or allocated.
func TestReadOversizeUnread(t *testing.T) {
	in := append(v2(0x21, 0x11, 65535), make([]byte, 65535)...)
	r := &strictReader{data: in}
	if _, err := Read(r); !errors.Is(err, ErrInvalid) {
		t.Fatal(err)
	}
	if r.reach != v2FixedLen {
		t.Errorf("asked for %d bytes, want the %d of the fixed part", r.reach, v2FixedLen)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 100 {
		Read(bytes.NewReader(in))
	}
	runtime.ReadMemStats(&after)
	if perRead := (after.TotalAlloc - before.TotalAlloc) / 100; perRead > 1024 {
		t.Errorf("%d bytes allocated to refuse an oversize header", perRead)
	}
}

// TestReadAllocs bounds the allocations of a successful Read: a header's
// bytes are read into one buffer, whatever the number of TLVs.
func TestReadAllocs(t *testing.T) {
	for _, tc := range []struct {
		in  []byte
		max float64
	}{
		// Header, buffer, TLV slice, two *net.TCPAddr and their IPs.
		{v2(0x21, 0x11, -1, ip4Block, bytes.Repeat(tlv(0xe0, "x"), 100)), 7},
		// Line buffer, its string, Header, two *net.TCPAddr and their IPs.
		{[]byte("PROXY TCP6 2001:db8::1 ::1 1 65535\r\n"), 8},
	} {
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := Read(bytes.NewReader(tc.in)); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > tc.max {
			t.Errorf("%q: %v allocations, want at most %v", tc.in[:10], allocs, tc.max)
		}
	}
}

func TestReadNoHeader(t *testing.T) {
	for _, tc := range []struct{ in, seen string }{
		{"GET / HTTP/1.1\r\n", "G"},
		{"\x16\x03\x01\x02\x00", "\x16"},
		{"PROPFIND / HTTP/1.1\r\n", "PROP"},
		{"PRI * HTTP/2.0\r\n", "PRI"},
		{"proxy TCP4", "p"},
		{"\r\n\r\n\x00\r\nQUIX\n\x21", "\r\n\r\n\x00\r\nQUIX"},
		{"\r\nHELO", "\r\nH"},
		{"\x00", "\x00"},
	} {
		r := &strictReader{data: []byte(tc.in)}
		h, err := Read(r)
		var nh *NoHeaderError
		if !errors.As(err, &nh) || !errors.Is(err, ErrNoHeader) || errors.Is(err, ErrInvalid) || h != nil {
			t.Errorf("%q: %s, %v", tc.in, describe(h), err)
			continue
		}
		if string(nh.Seen) != tc.seen || r.off != len(tc.seen) || r.reach != len(tc.seen) {
			t.Errorf("%q: seen %q, consumed %d, asked for %d; want %q", tc.in, nh.Seen, r.off, r.reach, tc.seen)
		}
		// The stream, restored.
		all, _ := io.ReadAll(io.MultiReader(bytes.NewReader(nh.Seen), r))
		if string(all) != tc.in {
			t.Errorf("restored %q, want %q", all, tc.in)
		}
	}
}

func TestReadErrors(t *testing.T) {
	if _, err := Read(bytes.NewReader(nil)); err == nil || !errors.Is(err, io.EOF) || errors.Is(err, ErrInvalid) {
		t.Errorf("empty: %v", err)
	}
	boom := errors.New("boom")
	in := "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"
	for i := range len(in) {
		r := io.MultiReader(strings.NewReader(in[:i]), iotest.ErrReader(boom))
		if _, err := Read(r); !errors.Is(err, boom) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrNoHeader) {
			t.Errorf("error after %d bytes: %v", i, err)
		}
	}
}

// TestReadDeadline shows a caller's deadline ending a Read that waits for
// the rest of a header.
func TestReadDeadline(t *testing.T) {
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Write([]byte("PROXY TCP4 1.2.3.4"))
	}()
	s.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := Read(s); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("got %v, want a deadline error", err)
	}
	s.Close()
	<-done
}

// TestReadTCP reads a header off a real socket, the application's bytes
// arriving in the same segment, and finds them unread.
func TestReadTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	defer ln.Close()
	for _, hdr := range [][]byte{
		[]byte("PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n"),
		[]byte("PROXY UNKNOWN\r\n"),
		v2(0x21, 0x21, -1, ip6Block, tlv(0x01, "h2")),
	} {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			c.Close()
			t.Fatal(err)
		}
		if _, err := c.Write(append(bytes.Clone(hdr), "hello"...)); err != nil {
			t.Fatal(err)
		}
		c.Close()
		s.SetDeadline(time.Now().Add(5 * time.Second))
		h, err := Read(s)
		rest, _ := io.ReadAll(s)
		s.Close()
		if err != nil || string(rest) != "hello" {
			t.Errorf("%q: %s, %v; then %q", hdr, describe(h), err, rest)
		}
	}
}

func TestHasSignature(t *testing.T) {
	for _, tc := range []struct {
		in         string
		yes, maybe bool
	}{
		{"", false, true},
		{"P", false, true},
		{"PROX", false, true},
		{"PROXY", true, false},
		{"PROXY TCP4 1.2.3.4", true, false},
		{"PROXYZ", true, false}, // a v1 signature, then an invalid header
		{"PRO ", false, false},
		{"GET / HTTP/1.1", false, false},
		{"\r", false, true},
		{"\r\n\r\n\x00\r\nQUI", false, true},
		{v2Sig, true, false},
		{v2Sig + "\x21\x11\x00\x0c", true, false},
		{v2Sig[:11] + "X", false, false},
		{"\r\n\r\n\x01", false, false},
		{"\n", false, false},
	} {
		yes, maybe := HasSignature([]byte(tc.in))
		if yes != tc.yes || maybe != tc.maybe {
			t.Errorf("HasSignature(%q) = %v, %v; want %v, %v", tc.in, yes, maybe, tc.yes, tc.maybe)
		}
	}
	for n := len(v2Sig); n <= 16; n++ {
		if _, maybe := HasSignature(bytes.Repeat([]byte{'\r'}, n)); maybe {
			t.Errorf("maybe with %d bytes", n)
		}
	}
}

func TestAppendV1(t *testing.T) {
	v4 := func(s string, p int) *net.TCPAddr { return &net.TCPAddr{IP: net.ParseIP(s), Port: p} }
	for _, tc := range []struct {
		src, dst *net.TCPAddr
		want     string
	}{
		{v4("192.0.2.1", 56324), v4("198.51.100.7", 443), "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n"},
		{&net.TCPAddr{IP: net.IP{10, 0, 0, 1}, Port: 1}, v4("10.0.0.2", 0), "PROXY TCP4 10.0.0.1 10.0.0.2 1 0\r\n"},
		{v4("2001:db8::1", 65535), v4("::1", 80), "PROXY TCP6 2001:db8::1 ::1 65535 80\r\n"},
		{v4("192.0.2.1", 1), v4("::1", 2), "PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n"},
		{&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 1, Zone: "eth0"}, v4("::1", 2), "PROXY TCP6 fe80::1 ::1 1 2\r\n"},
		{nil, v4("::1", 2), "PROXY UNKNOWN\r\n"},
		{v4("192.0.2.1", 1), nil, "PROXY UNKNOWN\r\n"},
	} {
		b := AppendV1([]byte("x"), tc.src, tc.dst)
		if string(b) != "x"+tc.want {
			t.Errorf("AppendV1(%v, %v) = %q, want %q", tc.src, tc.dst, b[1:], tc.want)
			continue
		}
		h, err := Read(bytes.NewReader(b[1:]))
		if err != nil {
			t.Errorf("%q: %v", b[1:], err)
			continue
		}
		if tc.src == nil || tc.dst == nil {
			if !h.Local {
				t.Errorf("%q: not Local", b[1:])
			}
			continue
		}
		if !sameTCP(h.Source, tc.src) || !sameTCP(h.Dest, tc.dst) {
			t.Errorf("%q read as %s", b[1:], describe(h))
		}
	}
}

func sameTCP(a net.Addr, b *net.TCPAddr) bool {
	t, ok := a.(*net.TCPAddr)
	return ok && t.IP.Equal(b.IP) && t.Port == b.Port
}

func TestAppendV2RoundTrip(t *testing.T) {
	tcp := func(s string, p int) *net.TCPAddr { return &net.TCPAddr{IP: net.ParseIP(s), Port: p} }
	unix := func(s string) *net.UnixAddr { return &net.UnixAddr{Net: "unix", Name: s} }
	tlvs := []TLV{{0x01, []byte("h2")}, {0x04, []byte{}}, {0x20, []byte("\x01\x00\x00\x00\x00\x21\x00\x07TLSv1.3")}}
	for _, h := range []*Header{
		{Version: 2, Source: tcp("192.0.2.1", 56324), Dest: tcp("198.51.100.7", 443)},
		{Version: 2, Source: tcp("192.0.2.1", 56324), Dest: tcp("198.51.100.7", 443), TLVs: tlvs},
		{Version: 2, Source: tcp("2001:db8::1", 1), Dest: tcp("::1", 2), TLVs: tlvs[:1]},
		{Version: 2, Source: tcp("192.0.2.1", 1), Dest: tcp("::1", 2)},
		{Version: 2, Source: unix("/run/a.sock"), Dest: unix("@abstract"), TLVs: tlvs[2:]},
		{Version: 2, Source: unix(strings.Repeat("p", 108)), Dest: unix("")},
		{Version: 2, Local: true},
		{Version: 2, Local: true, TLVs: tlvs},
		{Version: 2, Source: tcp("192.0.2.1", 1), Dest: tcp("192.0.2.2", 2), TLVs: []TLV{{0xe0, make([]byte, MaxTLVLen-3)}}},
	} {
		b := AppendV2(nil, h)
		got, err := Read(bytes.NewReader(b))
		if err != nil {
			t.Errorf("%s: %v", describe(h), err)
			continue
		}
		if describe(got) != describe(h) {
			t.Errorf("got  %s\nwant %s", describe(got), describe(h))
		}
	}

	// The checksum is filled in and checks.
	h := &Header{Local: true, TLVs: []TLV{{0x05, []byte("id")}, {0x03, []byte("????")}}}
	b := AppendV2(nil, h)
	got, err := Read(bytes.NewReader(b))
	if err != nil || len(got.TLVs) != 2 || string(got.TLVs[1].Value) == "????" {
		t.Errorf("CRC32C: %s, %v", describe(got), err)
	}
}

func TestAppendV2Panics(t *testing.T) {
	tcp := &net.TCPAddr{IP: net.IPv4(1, 2, 3, 4), Port: 1}
	for name, h := range map[string]*Header{
		"nil addresses":   {},
		"mixed types":     {Source: tcp, Dest: &net.UnixAddr{Name: "a", Net: "unix"}},
		"UDP":             {Source: &net.UDPAddr{}, Dest: &net.UDPAddr{}},
		"long Unix name":  {Source: &net.UnixAddr{Name: strings.Repeat("a", 109)}, Dest: &net.UnixAddr{}},
		"bad port":        {Source: &net.TCPAddr{IP: net.IPv4(1, 2, 3, 4), Port: 65536}, Dest: tcp},
		"bad IP":          {Source: &net.TCPAddr{IP: net.IP{1, 2, 3}}, Dest: tcp},
		"TLVs over bound": {Local: true, TLVs: []TLV{{0xe0, make([]byte, MaxTLVLen-2)}}},
		"two CRC32C":      {Local: true, TLVs: []TLV{{0x03, make([]byte, 4)}, {0x03, make([]byte, 4)}}},
		"short CRC32C":    {Local: true, TLVs: []TLV{{0x03, make([]byte, 3)}}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			AppendV2(nil, h)
		}()
	}
}

// TestReadV1ReachRandom reads many lines of random addresses, of all
// lengths, and checks that no Read asked for a byte past the line.
func TestReadV1ReachRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randIP := func(v6 bool) net.IP {
		ip := make(net.IP, 4)
		if v6 {
			ip = make(net.IP, 16)
		}
		for i := range ip {
			switch rng.IntN(3) {
			case 0: // zeros, for :: and short octets
			case 1:
				ip[i] = byte(rng.IntN(10))
			default:
				ip[i] = byte(rng.IntN(256))
			}
		}
		return ip
	}
	randPort := func() int { return []int{0, 9, 10, 99, 100, 65535, rng.IntN(65536)}[rng.IntN(7)] }
	for range 5000 {
		v6 := rng.IntN(2) == 0
		src := &net.TCPAddr{IP: randIP(v6), Port: randPort()}
		dst := &net.TCPAddr{IP: randIP(v6), Port: randPort()}
		line := AppendV1(nil, src, dst)
		r := &strictReader{data: append(bytes.Clone(line), trailer...)}
		h, err := Read(r)
		if err != nil || !sameTCP(h.Source, src) || !sameTCP(h.Dest, dst) {
			t.Fatalf("%q: %s, %v", line, describe(h), err)
		}
		if r.off != len(line) || r.reach != len(line) {
			t.Fatalf("%q: consumed %d, asked for %d", line, r.off, r.reach)
		}
	}
}
