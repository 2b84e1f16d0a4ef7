package sock

import "time"

// Busy records that the current write began or moved bytes at now. Only
// the writing goroutine calls Busy and Idle.
func (w *Writer) Busy(now time.Time) { w.busySince.Store(now.UnixNano()) }

// Idle records that no write is under way.
func (w *Writer) Idle() { w.busySince.Store(0) }

// NoteFull notes the socket's send queue, once per stall, when the writer
// finds the socket full (see StalledFor). Only the writing goroutine calls
// it.
func (w *Writer) NoteFull() {
	since := w.busySince.Load()
	if w.stallStamp.Load() == since {
		return
	}
	if q, ok := w.Outq(); ok {
		w.stallOutq.Store(int64(q))
		w.stallStamp.Store(since)
	}
}

// StalledFor returns how long the current write has moved nothing, 0 if
// no write is under way. Where the system tells how many bytes wait in the
// socket's send queue (Linux), a queue that shrank since the writer found
// the socket full is progress too: the peer is reading, and the kernel lets
// the writer in again only once a good part of the buffer is free, which
// can take longer than a stall timeout for a peer that reads slowly but
// steadily. Callers of StalledFor must not run concurrently with one
// another (simplesockets holds the connection's lock).
func (w *Writer) StalledFor() time.Duration {
	since := w.busySince.Load()
	if since == 0 {
		return 0
	}
	if w.stallStamp.Load() == since {
		if q, ok := w.Outq(); ok && q < int(w.stallOutq.Load()) {
			now := time.Now().UnixNano()
			if w.busySince.CompareAndSwap(since, now) {
				w.stallOutq.Store(int64(q))
				w.stallStamp.Store(now)
			}
			return 0
		}
	}
	return time.Since(time.Unix(0, since))
}
