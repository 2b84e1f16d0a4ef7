//go:build linux

package compat_test

import (
	"net"
	"testing"
	"time"

	"github.com/simplesockets/simplesockets-go/simplesockets/compat"
)

// The Listen value reaches listen(2): with the server at its connection
// limit (not accepting), Linux completes Listen+1 further handshakes and
// drops the SYNs after that, so a dial with a short timeout fails.
func TestListenBacklogReachesListen(t *testing.T) {
	const attempts = 8
	tests := []struct {
		name     string
		listen   int
		min, max int // dials that complete
	}{
		{"listen=1", 1, 1, 3},
		{"listen=4", 4, 4, 6},
		{"system default", -1, attempts, attempts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, addr := startServer(t, 1, compat.ServerSetup{Listen: tt.listen})
			dial(t, addr)
			awaitKind(t, srv, compat.EventConnect)
			eventually(t, "at the limit", func() bool { return !srv.Accepting() })

			completed, failedInARow := 0, 0
			for range attempts {
				c, err := net.DialTimeout("tcp", addr, 250*time.Millisecond)
				if err != nil {
					if failedInARow++; failedInARow == 2 {
						break // the queue is full: more dials only cost time
					}
					continue
				}
				t.Cleanup(func() { c.Close() })
				completed++
				failedInARow = 0
			}
			if completed < tt.min || completed > tt.max {
				t.Fatalf("%d dials completed with Listen %d, want %d..%d", completed, tt.listen, tt.min, tt.max)
			}
			t.Logf("%d dials completed with Listen %d", completed, tt.listen)
		})
	}
}
