// Package frame holds the codecs of the built-in framings of package
// simplesockets (Raw, LengthPrefixed, Delimited) and the two errors they
// report, which simplesockets exports as ErrMessageTooLarge and
// ErrInvalidMessage. Each codec is stateless, so safe for concurrent use.
//
// Split keeps the capacity of the frame it returns (data[4:end],
// data[:i]): the simplesockets reader relies on it to find the frame's
// offset in its buffer.
package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

var (
	// ErrTooLarge: a frame over the codec's limit.
	ErrTooLarge = errors.New("simplesockets: message too large")
	// ErrInvalid: a payload the codec cannot encode, or bytes it rejects.
	ErrInvalid = errors.New("simplesockets: invalid message")
)

// MaxLen32 is the largest length a 4-byte header carries, or the largest
// int (less the header) where that is smaller: 32-bit platforms.
const MaxLen32 = min(math.MaxUint32, math.MaxInt-4)

// Raw is one message per read.
type Raw struct{}

func (Raw) Split(data []byte) (int, []byte, error)    { return len(data), data, nil }
func (Raw) AppendFrame(dst, p []byte) ([]byte, error) { return append(dst, p...), nil }
func (Raw) MaxFrameSize() int                         { return 0 }
func (Raw) FrameLen([]byte) int                       { return 0 }
func (Raw) EncodedLen(payload int) int                { return payload }
func (Raw) String() string                            { return "raw" }

// Len32 is a 4-byte big-endian length, then the payload of at most Max
// bytes.
type Len32 struct{ Max int }

func (f Len32) Split(data []byte) (int, []byte, error) {
	if len(data) < 4 {
		return 0, nil, nil
	}
	n := uint64(binary.BigEndian.Uint32(data))
	if n > uint64(f.Max) {
		return 0, nil, fmt.Errorf("%w: length prefix %d exceeds limit %d%s", ErrTooLarge, n, f.Max, textHint(data[:4]))
	}
	end := 4 + int(n)
	if len(data) < end {
		return 0, nil, nil
	}
	return end, data[4:end], nil
}

// textHint explains a length prefix made of printable ASCII: most likely
// a peer speaking a text protocol (Lines or Raw) to a LengthPrefixed end.
func textHint(hdr []byte) string {
	for _, b := range hdr {
		if (b < 0x20 || b > 0x7e) && b != '\r' && b != '\n' && b != '\t' {
			return ""
		}
	}
	return fmt.Sprintf(" (the prefix %q is text: is the peer sending Lines or Raw?)", hdr)
}

func (f Len32) AppendFrame(dst, p []byte) ([]byte, error) {
	if len(p) > f.Max {
		return dst, fmt.Errorf("%w: payload of %d bytes exceeds limit %d", ErrTooLarge, len(p), f.Max)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(p)))
	return append(dst, p...), nil
}

func (f Len32) MaxFrameSize() int { return 4 + f.Max }

// FrameLen is the whole frame's size once the header is in, else 0.
func (f Len32) FrameLen(data []byte) int {
	if len(data) < 4 {
		return 0
	}
	return 4 + int(binary.BigEndian.Uint32(data))
}

func (Len32) EncodedLen(payload int) int { return 4 + payload }
func (f Len32) String() string           { return fmt.Sprintf("len32(max %d)", f.Max) }

// Delim is a payload of at most Max bytes ended by Delim.
type Delim struct {
	Delim byte
	Max   int
}

func (f Delim) Split(data []byte) (int, []byte, error) {
	look := data
	if len(look) > f.Max+1 {
		look = look[:f.Max+1]
	}
	i := bytes.IndexByte(look, f.Delim)
	if i < 0 {
		if len(data) > f.Max {
			return 0, nil, fmt.Errorf("%w: no delimiter within %d bytes", ErrTooLarge, f.Max)
		}
		return 0, nil, nil
	}
	return i + 1, data[:i], nil
}

func (f Delim) AppendFrame(dst, p []byte) ([]byte, error) {
	if len(p) > f.Max {
		return dst, fmt.Errorf("%w: payload of %d bytes exceeds limit %d", ErrTooLarge, len(p), f.Max)
	}
	if bytes.IndexByte(p, f.Delim) >= 0 {
		return dst, fmt.Errorf("%w: payload contains the delimiter %q", ErrInvalid, f.Delim)
	}
	return append(append(dst, p...), f.Delim), nil
}

func (f Delim) MaxFrameSize() int        { return f.Max + 1 }
func (Delim) FrameLen([]byte) int        { return 0 }
func (Delim) EncodedLen(payload int) int { return payload + 1 }
func (f Delim) String() string           { return fmt.Sprintf("delimited(%q, max %d)", f.Delim, f.Max) }
