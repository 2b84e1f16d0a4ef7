package simplesockets

import "github.com/simplesockets/simplesockets-go/internal/frame"

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

// Raw returns the framing of the Python package: each read from the socket,
// of up to ReadBufferSize bytes, is one message, and Send writes the bytes as
// they are. Use it to talk to peers that have no framing (nc, telnet, Python
// simplesockets).
//
// Raw boundaries are not message boundaries. TCP is a byte stream: a peer's
// two writes may arrive as one message, and one write may arrive as several.
func Raw() Framing { return frame.Raw{} }

// LengthPrefixed returns the framing where each message is a 4-byte
// big-endian payload length followed by the payload. maxSize limits the
// payload length: it is checked against the header before any buffer for the
// payload is allocated, so a peer announcing 4 GiB costs nothing. If maxSize
// is zero, 4 MiB is used; a negative value allows the largest length a
// 4-byte header can carry (4 GiB - 1). A length prefix over the limit that
// reads as text gets a hint in its error: the peer probably speaks Lines or
// Raw.
func LengthPrefixed(maxSize int) Framing {
	switch {
	case maxSize == 0:
		maxSize = defaultMaxMessageSize
	case maxSize < 0 || maxSize > frame.MaxLen32:
		maxSize = frame.MaxLen32
	}
	return frame.Len32{Max: maxSize}
}

// Delimited returns the framing where each message ends with delim (which is
// not part of the message). maxSize limits a message's length without the
// delimiter: a peer that sends more without a delimiter is disconnected with
// ErrMessageTooLarge. If maxSize is zero or negative, 64 KiB is used.
func Delimited(delim byte, maxSize int) Framing {
	if maxSize <= 0 {
		maxSize = defaultMaxLineSize
	}
	return frame.Delim{Delim: delim, Max: min(maxSize, frame.MaxLen32)}
}

// Lines is Delimited('\n', maxSize). A trailing '\r' is kept in the message.
func Lines(maxSize int) Framing { return Delimited('\n', maxSize) }

// sizer is implemented by the built-in framings to size buffers exactly:
// FrameLen is the size of the frame that begins data, or 0 if not known
// yet; EncodedLen is the encoded size of a payload. resolve uses it for
// the built-in framings only, whose Split returns sub-slices of its data
// (the reader relies on that): a user's Framing with the same methods is
// treated as any other.
type sizer interface {
	FrameLen(data []byte) int
	EncodedLen(payload int) int
}

// isRaw reports whether f is the Raw framing (nil counts as Raw).
func isRaw(f Framing) bool {
	_, ok := f.(frame.Raw)
	return f == nil || ok
}
