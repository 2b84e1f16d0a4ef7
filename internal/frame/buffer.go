package frame

import (
	"errors"
	"fmt"

	"github.com/simplesockets/simplesockets-go/internal/errs"
	"github.com/simplesockets/simplesockets-go/internal/pool"
)

// Splitter cuts frames: package simplesockets' Framing.
type Splitter interface {
	Split(data []byte) (advance int, frame []byte, err error)
}

// Sizer is implemented by the built-in framings: FrameLen is the size of
// the frame that begins data, or 0 if not known yet.
type Sizer interface {
	FrameLen(data []byte) int
}

// growFree is how large a read buffer may grow for a frame before its bytes
// have arrived.
const growFree = 128 << 10

// Buffer is a connection's read buffer: the bytes read and not yet cut into
// frames, and the frames of the last Cut, copied out for the application.
// The connection's reader owns it: it is not safe for concurrent use.
//
// buf starts at the read size. While a frame is incomplete and fills it, it
// grows to what the frame needs, but never past twice the bytes that have
// arrived or growFree, whichever is more (plus 64 bytes: buffers come in
// classes of 2^k+64, internal/pool): a 4-byte header announcing 4 MiB costs
// at most growFree. After the frame, it shrinks back.
type Buffer struct {
	// Frames are the frames of the last Cut, the application's: each in a
	// block of its own memory (see handOver), its capacity cut to its
	// length.
	Frames [][]byte

	split              Splitter
	sz                 Sizer // non-nil for a built-in framing: its frames are sub-slices of what it splits
	readSize, maxFrame int
	buf                []byte
	spare              []byte          // the read-size buffer, set aside while buf is grown
	big                *pool.ReadBuf   // buf's pooled buffer, if buf is one
	blocks             []*pool.ReadBuf // the Frames' pooled buffers, one per MaxParts frames (nil: not pooled)
	start, end         int             // buf[start:end] is read and not yet cut
	need               int             // size of the pending frame, if the framing knows it
}

// NewBuffer returns a Buffer that cuts with split (sz: its Sizer, for a
// built-in framing only), reads readSize bytes at a time, and holds at most
// maxFrame bytes (at least readSize) of one incomplete frame.
func NewBuffer(split Splitter, sz Sizer, readSize, maxFrame int) *Buffer {
	return &Buffer{split: split, sz: sz, readSize: readSize, maxFrame: maxFrame, buf: make([]byte, readSize)}
}

// Buffered returns how many bytes of an incomplete frame it holds.
func (b *Buffer) Buffered() int { return b.end - b.start }

// Room makes room for the next read and returns where it goes. It fails
// (ErrTooLarge) when an incomplete frame fills maxFrame.
func (b *Buffer) Room() ([]byte, error) {
	if b.start > 0 && (b.end == len(b.buf) || b.need > len(b.buf)-b.start) {
		b.end = copy(b.buf, b.buf[b.start:b.end])
		b.start = 0
	}
	if b.end == len(b.buf) { // an incomplete frame fills buf: grow it (see above)
		if b.end >= b.maxFrame {
			return nil, fmt.Errorf("%w: more than %d bytes without a complete frame", ErrTooLarge, b.maxFrame)
		}
		size := min(max(2*len(b.buf)-64, growFree), b.maxFrame) // -64: the next class, not the one after
		if b.need > len(b.buf) {
			size = min(size, b.need)
		}
		nb, big := pool.GetRead(size)
		copy(nb, b.buf[:b.end])
		if len(b.buf) == b.readSize {
			b.spare = b.buf
		}
		b.dropBig()
		b.buf, b.big = nb, big
	}
	return b.buf[b.end:], nil
}

// Cut adds n bytes, read into what Room returned, and cuts the complete
// frames into Frames. began reports whether a new incomplete frame began
// in these bytes. A framing error (matching ErrTooLarge or ErrInvalid) is
// returned with the frames before it.
func (b *Buffer) Cut(n int) (began bool, err error) {
	b.end += n
	b.Frames, b.blocks = b.Frames[:0], b.blocks[:0]
	first := b.start
	b.need = 0
	for b.start < b.end {
		adv, f, serr := b.split.Split(b.buf[b.start:b.end:b.end]) // (data's capacity ends at b.end: copyOut)
		if serr != nil {
			err = serr
			break
		}
		if adv <= 0 {
			if b.sz != nil {
				b.need = b.sz.FrameLen(b.buf[b.start:b.end])
			}
			break
		}
		if adv > b.end-b.start {
			err = fmt.Errorf("%w: framing consumed %d of %d bytes", ErrInvalid, adv, b.end-b.start)
			break
		}
		b.Frames = append(b.Frames, f)
		b.start += adv
	}
	began = b.start > first && b.start < b.end
	if len(b.Frames) > 0 {
		b.handOver()
	}
	if b.start == b.end {
		b.start, b.end = 0, 0
		if len(b.buf) > b.readSize {
			b.dropBig()
			b.buf = b.takeSpare() // shrink back after a large frame
		}
	}
	if err != nil && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrInvalid) {
		err = errs.Because(ErrInvalid, err)
	}
	return began, err
}

// handOver makes the Frames the application's. A built-in framing's frame
// (a sub-slice of buf) that fills most of a grown buffer takes the buffer
// itself (the rest moves to a new one); otherwise each MaxParts frames are
// copied into one block. Blocks of minPooled bytes or more come from
// internal/pool, and go back to it when the application has released every
// message in them (Message.Release).
func (b *Buffer) handOver() {
	if b.sz != nil && len(b.Frames) == 1 && len(b.buf) > b.readSize && 2*len(b.Frames[0]) >= len(b.buf) {
		f := b.Frames[0]
		b.Frames[0] = f[:len(f):len(f)]
		b.blocks = append(b.blocks, b.big)
		b.big = nil
		rest := b.end - b.start
		nb := b.takeSpare()
		if rest > len(nb) {
			nb = make([]byte, rest)
		}
		copy(nb, b.buf[b.start:b.end])
		b.buf, b.start, b.end = nb, 0, rest
		return
	}
	for g := 0; g < len(b.Frames); g += pool.MaxParts {
		b.blocks = append(b.blocks, b.copyOut(b.Frames[g:min(g+pool.MaxParts, len(b.Frames))]))
	}
}

// copyOut copies frames into one block and points them at their copies;
// it returns the block's pooled buffer, if it is in one.
func (b *Buffer) copyOut(frames [][]byte) *pool.ReadBuf {
	if b.sz != nil {
		// A built-in framing's frames are sub-slices of buf, in order,
		// with the capacity of buf[:b.end]: one copy of the region from
		// the first to the end of the last (headers between included).
		lo, last := b.end-cap(frames[0]), frames[len(frames)-1]
		block, rb := newBlock(b.end - cap(last) + len(last) - lo)
		copy(block, b.buf[lo:])
		for i, f := range frames {
			at := b.end - cap(f) - lo
			frames[i] = block[at : at+len(f) : at+len(f)]
		}
		return rb
	}
	total := 0
	for _, f := range frames {
		total += len(f)
	}
	block, rb := newBlock(total)
	for i, f := range frames {
		n := copy(block, f)
		frames[i], block = block[:n:n], block[n:]
	}
	return rb
}

// minPooled is the smallest block that comes from the pool: a smaller one
// is allocated to its size, which wastes less than a pool class would.
const minPooled = 256

// newBlock returns size bytes for frames to be copied into, and their
// pooled buffer, if they are in one.
func newBlock(size int) ([]byte, *pool.ReadBuf) {
	if size < minPooled {
		return make([]byte, size), nil
	}
	buf, rb := pool.GetRead(size)
	return buf[:size], rb
}

// Part returns the pooled buffer Frames[i] lies in, if any, and the tag
// that releases its part (pool.ReadBuf.Release).
func (b *Buffer) Part(i int) (*pool.ReadBuf, uint64) {
	rb := b.blocks[i/pool.MaxParts]
	if rb == nil {
		return nil, 0
	}
	g := i / pool.MaxParts * pool.MaxParts
	return rb, rb.Tag(i-g, min(pool.MaxParts, len(b.Frames)-g))
}

// Clear forgets the Frames (delivered, or never to be): the Buffer keeps
// no reference to the application's memory.
func (b *Buffer) Clear() {
	clear(b.Frames)
	clear(b.blocks)
	b.Frames, b.blocks = b.Frames[:0], b.blocks[:0]
}

// Close gives buf's pooled buffer back, if it has one.
func (b *Buffer) Close() { b.dropBig() }

func (b *Buffer) dropBig() {
	if rb := b.big; rb != nil {
		b.big = nil
		rb.Release(rb.Tag(0, 1))
	}
}

// takeSpare returns the read-size buffer set aside while buf was grown, or
// a new one.
func (b *Buffer) takeSpare() []byte {
	if sp := b.spare; sp != nil {
		b.spare = nil
		return sp
	}
	return make([]byte, b.readSize)
}
