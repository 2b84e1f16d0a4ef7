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
