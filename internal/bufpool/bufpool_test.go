package bufpool

import (
	"runtime"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGetPut(t *testing.T) {
	for _, size := range []int{0, 1, 4096, 4097, 70000, 1 << 20, 1<<20 + 1} {
		b := Get(size)
		if len(b) != 0 || cap(b) < size {
			t.Fatalf("Get(%d): len %d cap %d", size, len(b), cap(b))
		}
		Put(append(b, 1))
	}
	// A buffer of a foreign capacity is not pooled (and Put does not panic).
	Put(make([]byte, 10))
}

func TestPutDoesNotAllocate(t *testing.T) {
	b := Get(100)
	if n := testing.AllocsPerRun(100, func() { Put(b); b = Get(100) }); n != 0 {
		t.Fatalf("%v allocations per Put+Get", n)
	}
}

// Get rounds up by less than 2× (plus Slack), so a payload of a power of two
// and its header take that power's class, not the next one.
func TestGetRoundsUpLessThanDouble(t *testing.T) {
	for _, size := range []int{4097, 8 << 10, 8<<10 + 4, 65536 + 4, 65536 + Slack, 65536 + Slack + 1, 300 << 10, MaxSize} {
		b := Get(size)
		if cap(b) < size || cap(b) >= 2*size+Slack {
			t.Errorf("Get(%d): capacity %d", size, cap(b))
		}
		Put(b)
	}
	if c := cap(Get(65536 + 4)); c != 64<<10+Slack {
		t.Errorf("a 64 KiB payload with a 4-byte header got a buffer of %d bytes", c)
	}
	if c := cap(Get(MaxSize + 1)); c != MaxSize+1 {
		t.Errorf("Get(MaxSize+1): capacity %d, want an exact allocation", c)
	}
}

func TestIsClass(t *testing.T) {
	for _, tt := range []struct {
		size int
		want bool
	}{{2048, true}, {4096, true}, {8<<10 + Slack, true}, {MaxSize, true}, {0, false}, {256, false}, {3000, false}, {8 << 10, false}, {MaxSize + 1, false}} {
		if got := IsClass(tt.size); got != tt.want {
			t.Errorf("IsClass(%d) = %v", tt.size, got)
		}
		if tt.want {
			if c := cap(Get(tt.size)); c != tt.size {
				t.Errorf("Get(%d): capacity %d", tt.size, c)
			}
		}
	}
}

// Making a class allocates its pool and closures, not an array of its size
// (it once did: 1.8 MiB of garbage at every program's start).
func TestNewClassAllocatesLittle(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	c := newClass[[1 << 20]byte]()
	runtime.ReadMemStats(&after)
	if c.size != 1<<20 {
		t.Fatalf("size %d", c.size)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<10 {
		t.Fatalf("newClass allocated %d bytes", n)
	}
}
