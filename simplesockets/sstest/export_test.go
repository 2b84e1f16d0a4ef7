package sstest

import (
	"fmt"
	"testing"
	"time"
)

// SetTimeout makes the Tap's waits and LineConn's reads and writes give up
// after d instead of DefaultTimeout, until the test ends.
func SetTimeout(tb testing.TB, d time.Duration) {
	old := timeout
	timeout = d
	tb.Cleanup(func() { timeout = old })
}

// SetTapLimits sets the bounds of the Taps made after it, until the test
// ends: events held back per channel, and the record's events and bytes.
func SetTapLimits(tb testing.TB, hold, events, bytes int) {
	oldHold, oldEvents, oldBytes := tapHoldLimit, tapRecordEvents, tapRecordBytes
	tapHoldLimit, tapRecordEvents, tapRecordBytes = hold, events, bytes
	tb.Cleanup(func() { tapHoldLimit, tapRecordEvents, tapRecordBytes = oldHold, oldEvents, oldBytes })
}

// Order returns the events in the record in the order the Tap received
// them: "C id", "M id data", "D id" or "E error".
func (t *Tap) Order() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, e := range t.rec[t.start:] {
		switch e.kind {
		case kindConnect:
			out = append(out, fmt.Sprintf("C %d", e.conn.ID()))
		case kindMessage:
			out = append(out, fmt.Sprintf("M %d %s", e.msg.Conn.ID(), e.msg.Data))
		case kindDisconnect:
			out = append(out, fmt.Sprintf("D %d", e.disc.Conn.ID()))
		case kindError:
			out = append(out, fmt.Sprintf("E %v", e.err))
		}
	}
	return out
}
