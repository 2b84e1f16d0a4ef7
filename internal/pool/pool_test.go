package pool

import (
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestPutWriteAllocations checks that PutWrite keeps a small buffer
// without allocating (the writer calls it each time it goes idle) and
// pools a large one.
func TestPutWriteAllocations(t *testing.T) {
	small := make([]byte, 0, 1<<10)
	if n := testing.AllocsPerRun(100, func() {
		if got := PutWrite(small); cap(got) != cap(small) {
			t.Fatalf("PutWrite kept cap %d, want %d", cap(got), cap(small))
		}
	}); n != 0 {
		t.Errorf("PutWrite of a small buffer: %v allocations, want 0", n)
	}
	if got := PutWrite(make([]byte, 10, KeepWrite+1)); got != nil {
		t.Errorf("PutWrite of a large buffer kept it (cap %d), want it pooled", cap(got))
	}
}

// A ReadBuf goes back once every part of its generation is released, once:
// a second release of a part, or a tag of an older generation, does
// nothing.
func TestReadBufReleaseParts(t *testing.T) {
	gen := func(b *ReadBuf) uint64 { return b.Tag(0, 1) >> 32 }
	b := &ReadBuf{B: make([]byte, 256)}
	tags := []uint64{b.Tag(0, 3), b.Tag(1, 3), b.Tag(2, 3)}
	for _, i := range []int{0, 0, 2, 2} {
		b.Release(tags[i])
		if g := gen(b); g != 0 {
			t.Fatalf("generation %d after releasing parts 0 and 2 of 3, want 0", g)
		}
	}
	b.Release(tags[1])
	if g := gen(b); g != 1 {
		t.Fatalf("generation %d after releasing every part, want 1", g)
	}
	for _, tag := range tags { // stale: this generation has no parts out
		b.Release(tag)
	}
	if g := gen(b); g != 1 {
		t.Fatalf("generation %d after stale releases, want 1", g)
	}
}

// Parts released concurrently, each twice, give the buffer back exactly
// once.
func TestReadBufConcurrentRelease(t *testing.T) {
	for range 100 {
		b := &ReadBuf{B: make([]byte, 512)}
		var wg sync.WaitGroup
		for i := range MaxParts {
			tag := b.Tag(i, MaxParts)
			wg.Add(2)
			for range 2 {
				go func() { defer wg.Done(); b.Release(tag) }()
			}
		}
		wg.Wait()
		if g := b.Tag(0, 1) >> 32; g != 1 {
			t.Fatalf("generation %d after all %d parts were released, want 1", g, MaxParts)
		}
	}
}

// Every size up to the largest class gets a buffer at least that large,
// of its class's size.
func TestGetReadClasses(t *testing.T) {
	for _, size := range []int{1, 255, 256, 257, 2176, 8192, 8193, 8256, 8257, 1<<22 + 64} {
		buf, b := GetRead(size)
		if b == nil || len(buf) < size || len(buf) != classSize(classOf(size)) {
			t.Fatalf("GetRead(%d): len %d, ReadBuf %v", size, len(buf), b != nil)
		}
	}
	if _, b := GetRead(1<<22 + 65); b != nil {
		t.Fatal("GetRead over the largest class returned a pooled buffer")
	}
}

// The last generation's buffer is not pooled: the generation would wrap to
// 0, where a stale tag of generation 0 could release parts still held.
func TestReadBufLastGeneration(t *testing.T) {
	b := &ReadBuf{B: make([]byte, 256)}
	b.state.Store(uint64(1<<32-1) << 32)
	b.Release(b.Tag(0, 1))
	if got, ok := readBufs[classOf(256)].Get().(*ReadBuf); ok && got == b {
		t.Fatal("a buffer released in its last generation went back to the pool")
	}
}
