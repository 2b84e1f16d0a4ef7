package bufpool

import (
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
