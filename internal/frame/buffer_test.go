package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A partial frame's buffer is at most twice its bytes received, or 128 KiB
// (+64, the class's slack). (Doubling a 2^k+64 buffer used to ask for
// 2^(k+1)+128, which took the class after next: four times.)
func TestBufferGrowsWithArrivals(t *testing.T) {
	f := Len32{Max: 4 << 20}
	b := NewBuffer(f, f, 4096, f.MaxFrameSize())
	defer b.Close()
	room, _ := b.Room()
	binary.BigEndian.PutUint32(room, 4<<20) // a header announcing 4 MiB
	received := 0
	for range 6 {
		received += len(room) // the partial frame fills the buffer
		if _, err := b.Cut(len(room)); err != nil || len(b.Frames) != 0 {
			t.Fatalf("Cut: %v, %d frames", err, len(b.Frames))
		}
		var err error
		if room, err = b.Room(); err != nil {
			t.Fatal(err)
		}
		size := b.Buffered() + len(room)
		if bound := max(2*received, growFree+64); size > bound || size <= received {
			t.Errorf("after %d bytes of a partial frame the buffer is %d bytes (%.1fx), bound %d", received, size, float64(size)/float64(received), bound)
		}
	}
	if received < 1<<20 {
		t.Fatalf("the buffer grew to only %d bytes in 6 reads", received)
	}
}

// Cut hands out complete frames, each with its capacity cut to its length
// and in memory of its own, keeps a partial one, and says when one began.
func TestBufferCut(t *testing.T) {
	frame := func(p string) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(p))), p...)
	}
	for _, tc := range []struct {
		name  string
		split Splitter
		sz    Sizer
	}{
		{"built-in", Len32{Max: 1 << 20}, Len32{Max: 1 << 20}},
		{"user framing", Len32{Max: 1 << 20}, nil}, // copied frame by frame
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuffer(tc.split, tc.sz, 4096, 1<<20)
			defer b.Close()
			in := append(append(frame("one"), frame(string(bytes.Repeat([]byte("x"), 300)))...), frame("three")[:5]...)
			room, _ := b.Room()
			began, err := b.Cut(copy(room, in))
			if err != nil || !began || len(b.Frames) != 2 || b.Buffered() != 5 {
				t.Fatalf("Cut: began %v, err %v, %d frames, %d buffered", began, err, len(b.Frames), b.Buffered())
			}
			if string(b.Frames[0]) != "one" || len(b.Frames[1]) != 300 || cap(b.Frames[0]) != 3 {
				t.Fatalf("frames %q (cap %d), %d bytes", b.Frames[0], cap(b.Frames[0]), len(b.Frames[1]))
			}
			got := b.Frames[0]
			b.Clear()
			room, _ = b.Room()
			began, err = b.Cut(copy(room, "hree"))
			if err != nil || began || len(b.Frames) != 1 || string(b.Frames[0]) != "three" || b.Buffered() != 0 {
				t.Fatalf("second Cut: began %v, err %v, frames %q", began, err, b.Frames)
			}
			if string(got) != "one" {
				t.Fatalf("a frame handed out changed: %q", got)
			}
		})
	}
}

// A framing that consumes more than it was given is an ErrInvalid; a
// frame over the limit an ErrTooLarge.
func TestBufferErrors(t *testing.T) {
	b := NewBuffer(greedy{}, nil, 16, 16)
	room, _ := b.Room()
	if _, err := b.Cut(copy(room, "abc")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("greedy framing: %v, want ErrInvalid", err)
	}
	b = NewBuffer(Raw{}, nil, 16, 16)
	b.split = never{}
	room, _ = b.Room()
	b.Cut(copy(room, bytes.Repeat([]byte("a"), 16)))
	if _, err := b.Room(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a full buffer without a frame: %v, want ErrTooLarge", err)
	}
}

type greedy struct{}

func (greedy) Split(data []byte) (int, []byte, error) { return len(data) + 1, data, nil }

type never struct{}

func (never) Split([]byte) (int, []byte, error) { return 0, nil, nil }

// More than MaxParts frames in one read take several blocks; each goes back
// once all of its own parts are released, not before.
func TestBufferParts(t *testing.T) {
	f := Len32{Max: 1 << 20}
	b := NewBuffer(f, f, 4096, f.MaxFrameSize())
	defer b.Close()
	var in []byte
	for i := range 40 {
		in = append(binary.BigEndian.AppendUint32(in, 40), bytes.Repeat([]byte{byte('a' + i%26)}, 40)...)
	}
	room, _ := b.Room()
	if _, err := b.Cut(copy(room, in)); err != nil || len(b.Frames) != 40 {
		t.Fatalf("Cut: %v, %d frames", err, len(b.Frames))
	}
	gen := func(i int) uint64 { rb, _ := b.Part(i); return rb.Tag(0, 1) >> 32 }
	first, _ := b.Part(0)
	second, _ := b.Part(32)
	if first == nil || second == nil || first == second {
		t.Fatalf("blocks %p and %p, want two pooled blocks", first, second)
	}
	for i := range 40 {
		if rb, _ := b.Part(i); rb != first && i < 32 || rb != second && i >= 32 {
			t.Fatalf("frame %d is in the wrong block", i)
		}
	}
	tags := make([]uint64, 40)
	for i := range tags {
		_, tags[i] = b.Part(i)
	}
	for i := 32; i < 40; i++ {
		second.Release(tags[i])
	}
	for i := range 31 {
		first.Release(tags[i])
	}
	if gen(0) != 0 || gen(32) != 1 {
		t.Fatalf("generations %d and %d after releasing 31 of 32 and 8 of 8 parts, want 0 and 1", gen(0), gen(32))
	}
	first.Release(tags[31])
	if gen(0) != 1 {
		t.Fatal("the first block did not come back after all 32 parts were released")
	}
	b.Clear()
	for _, fr := range b.Frames[:cap(b.Frames)] {
		if fr != nil {
			t.Fatal("Clear left a frame in Frames' spare capacity")
		}
	}
	for _, rb := range b.blocks[:cap(b.blocks)] {
		if rb != nil {
			t.Fatal("Clear left a block in its spare capacity")
		}
	}
}

// A user framing whose frame is not a sub-slice of the data (its own
// scratch memory, reused) gets its frame copied, also when it is large.
func TestBufferCopiesUserFrames(t *testing.T) {
	sp := &scratch{buf: make([]byte, 70000)}
	b := NewBuffer(sp, nil, 4096, 1<<20)
	defer b.Close()
	for {
		room, err := b.Room()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Cut(copy(room, bytes.Repeat([]byte("z"), len(room)))); err != nil {
			t.Fatal(err)
		}
		if len(b.Frames) > 0 {
			break
		}
	}
	got := b.Frames[0]
	for i := range sp.buf {
		sp.buf[i] = 'X' // the splitter reuses its memory
	}
	if len(got) != 70000 || !bytes.Equal(got, bytes.Repeat([]byte("z"), 70000)) {
		t.Fatal("a user framing's frame shares memory with the framing's scratch buffer")
	}
}

// scratch returns frames of len(buf) bytes in its own buffer.
type scratch struct{ buf []byte }

func (s *scratch) Split(data []byte) (int, []byte, error) {
	if len(data) < len(s.buf) {
		return 0, nil, nil
	}
	copy(s.buf, data)
	return len(s.buf), s.buf, nil
}
