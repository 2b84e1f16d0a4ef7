package sock

import (
	"io"
	"net"
	"testing"
)

type countEvents struct{ progressed, full int }

func (e *countEvents) Progressed() { e.progressed++ }
func (e *countEvents) Full()       { e.full++ }

// TestWriterWrites checks that a Writer delivers every byte, and that a
// write the socket takes at once allocates nothing (the writer's steady
// state).
func TestWriterWrites(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- -1
			return
		}
		n, _ := io.Copy(io.Discard, c)
		c.Close()
		got <- n
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	w := NewWriter(nc)
	ev := &countEvents{}
	w.Events = ev
	b := make([]byte, 64)
	const runs = 200
	allocs := testing.AllocsPerRun(runs, func() {
		if n, err := w.Write(b); n != len(b) || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
	})
	big := make([]byte, 8<<20) // more than the socket takes at once: progress is reported
	if n, err := w.Write(big); n != len(big) || err != nil {
		t.Fatalf("Write of %d bytes: %d, %v", len(big), n, err)
	}
	nc.Close()
	if want := int64((runs+1)*len(b) + len(big)); <-got != want {
		t.Errorf("peer read a different count of bytes than %d", want)
	}
	if RawWrites {
		if allocs != 0 {
			t.Errorf("a small Write allocated %v times, want 0", allocs)
		}
		if ev.progressed == 0 {
			t.Errorf("an 8 MiB write reported no progress")
		}
	}
}
