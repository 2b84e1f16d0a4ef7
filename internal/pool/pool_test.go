package pool

import (
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
