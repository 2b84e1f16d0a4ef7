package simplesockets

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// Framing splits the byte stream of a connection into messages and encodes
// outgoing messages. The zero value of a config's Framing field (nil) means
// [Raw]. The built-in framings are [Raw], [LengthPrefixed], [Delimited] and
// [Lines]; implement Framing for anything else (a protocol's own header, say).
//
// A Framing value is shared by all connections of a server or client, so its
// methods must be safe for concurrent use; the built-in ones are stateless.
type Framing interface {
	// Split looks at bytes received and not yet consumed and returns the
	// number of bytes to consume and the payload of the first complete
	// frame. frame should be a sub-slice of data (it is then handed to the
	// application without a copy of its own); the package owns data. If
	// data holds no complete frame yet, Split returns 0, nil, nil and is
	// called again when more bytes arrived. A non-nil error ends the
	// connection: wrap ErrMessageTooLarge or ErrInvalidMessage.
	Split(data []byte) (advance int, frame []byte, err error)

	// AppendFrame appends the encoding of payload to dst and returns the
	// extended slice. It must not retain payload.
	AppendFrame(dst, payload []byte) ([]byte, error)

	// MaxFrameSize is the most bytes one frame may occupy on the wire,
	// header included. The reader never buffers more than that for one
	// frame: beyond it the connection ends with ErrMessageTooLarge. Zero or
	// negative means 4 MiB.
	MaxFrameSize() int
}

const (
	// defaultReadBufferSize is the read size of Raw framing, as in the
	// Python package (recv_buffer=2048).
	defaultReadBufferSize = 2048

	// defaultFramedReadSize is the initial read buffer of the other
	// framings; it grows for larger frames and shrinks back afterwards.
	defaultFramedReadSize = 4096

	// defaultMaxMessageSize is the largest payload LengthPrefixed accepts
	// unless told otherwise, and the frame limit for a custom Framing whose
	// MaxFrameSize is not positive.
	defaultMaxMessageSize = 4 << 20

	// defaultMaxLineSize is the longest Delimited or Lines message (without
	// the delimiter) unless told otherwise.
	defaultMaxLineSize = 64 << 10
)

// Raw returns the framing of the Python package: each read from the socket,
// of up to ReadBufferSize bytes, is one message, and Send writes the bytes as
// they are. Use it to talk to peers that have no framing (nc, telnet, Python
// simplesockets).
//
// Raw boundaries are not message boundaries. TCP is a byte stream: a peer's
// two writes may arrive as one message, and one write may arrive as several.
func Raw() Framing { return rawFraming{} }

type rawFraming struct{}

func (rawFraming) Split(data []byte) (int, []byte, error) { return len(data), data, nil }
func (rawFraming) AppendFrame(dst, p []byte) ([]byte, error) {
	return append(dst, p...), nil
}
func (rawFraming) MaxFrameSize() int          { return 0 }
func (rawFraming) frameLen([]byte) int        { return 0 }
func (rawFraming) encodedLen(payload int) int { return payload }
func (rawFraming) String() string             { return "raw" }

// LengthPrefixed returns the framing where each message is a 4-byte
// big-endian payload length followed by the payload. maxSize limits the
// payload length: it is checked against the header before any buffer for the
// payload is allocated, so a peer announcing 4 GiB costs nothing. If maxSize
// is zero, 4 MiB is used; a negative value allows the largest
// length a 4-byte header can carry (4 GiB - 1).
func LengthPrefixed(maxSize int) Framing {
	switch {
	case maxSize == 0:
		maxSize = defaultMaxMessageSize
	case maxSize < 0 || maxSize > maxLen32:
		maxSize = maxLen32
	}
	return lenFraming{max: maxSize}
}

// maxLen32 is the largest length a 4-byte header carries, or the largest
// int (less the header) where that is smaller: 32-bit platforms.
const maxLen32 = min(math.MaxUint32, math.MaxInt-4)

type lenFraming struct{ max int }

func (f lenFraming) Split(data []byte) (int, []byte, error) {
	if len(data) < 4 {
		return 0, nil, nil
	}
	n := uint64(binary.BigEndian.Uint32(data))
	if n > uint64(f.max) {
		return 0, nil, fmt.Errorf("%w: length prefix %d exceeds limit %d", ErrMessageTooLarge, n, f.max)
	}
	end := 4 + int(n)
	if len(data) < end {
		return 0, nil, nil
	}
	return end, data[4:end], nil // (capacity kept: see reader.offs)
}

func (f lenFraming) AppendFrame(dst, p []byte) ([]byte, error) {
	if len(p) > f.max {
		return dst, fmt.Errorf("%w: payload of %d bytes exceeds limit %d", ErrMessageTooLarge, len(p), f.max)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(p)))
	return append(dst, p...), nil
}

func (f lenFraming) MaxFrameSize() int { return 4 + f.max }

// frameLen implements sizer: the whole frame's size once the header is in.
func (f lenFraming) frameLen(data []byte) int {
	if len(data) < 4 {
		return 0
	}
	return 4 + int(binary.BigEndian.Uint32(data))
}

// encodedLen implements sizer.
func (lenFraming) encodedLen(payload int) int { return 4 + payload }
func (f lenFraming) String() string           { return fmt.Sprintf("len32(max %d)", f.max) }

// Delimited returns the framing where each message ends with delim (which is
// not part of the message). maxSize limits a message's length without the
// delimiter: a peer that sends more without a delimiter is disconnected with
// ErrMessageTooLarge. If maxSize is zero, 64 KiB is used; it must
// not be negative (a negative value is treated as zero).
func Delimited(delim byte, maxSize int) Framing {
	if maxSize <= 0 {
		maxSize = defaultMaxLineSize
	}
	maxSize = min(maxSize, maxLen32) // room for the delimiter without overflow
	return delimFraming{delim: delim, max: maxSize}
}

// Lines is Delimited('\n', maxSize). A trailing '\r' is kept in the message.
func Lines(maxSize int) Framing { return Delimited('\n', maxSize) }

type delimFraming struct {
	delim byte
	max   int
}

func (f delimFraming) Split(data []byte) (int, []byte, error) {
	look := data
	if len(look) > f.max+1 {
		look = look[:f.max+1]
	}
	i := bytes.IndexByte(look, f.delim)
	if i < 0 {
		if len(data) > f.max {
			return 0, nil, fmt.Errorf("%w: no delimiter within %d bytes", ErrMessageTooLarge, f.max)
		}
		return 0, nil, nil
	}
	return i + 1, data[:i], nil // (capacity kept: see reader.offs)
}

func (f delimFraming) AppendFrame(dst, p []byte) ([]byte, error) {
	if len(p) > f.max {
		return dst, fmt.Errorf("%w: payload of %d bytes exceeds limit %d", ErrMessageTooLarge, len(p), f.max)
	}
	if bytes.IndexByte(p, f.delim) >= 0 {
		return dst, fmt.Errorf("%w: payload contains the delimiter %q", ErrInvalidMessage, f.delim)
	}
	dst = append(dst, p...)
	return append(dst, f.delim), nil
}

func (f delimFraming) MaxFrameSize() int        { return f.max + 1 }
func (delimFraming) frameLen([]byte) int        { return 0 }
func (delimFraming) encodedLen(payload int) int { return payload + 1 }
func (f delimFraming) String() string           { return fmt.Sprintf("delimited(%q, max %d)", f.delim, f.max) }

// sizer is implemented by the built-in framings to size buffers exactly:
// frameLen is the size of the frame that begins data, or 0 if not known
// yet; encodedLen is the encoded size of a payload.
type sizer interface {
	frameLen(data []byte) int
	encodedLen(payload int) int
}

// isRaw reports whether f is the Raw framing (nil counts as Raw).
func isRaw(f Framing) bool {
	if f == nil {
		return true
	}
	_, ok := f.(rawFraming)
	return ok
}
