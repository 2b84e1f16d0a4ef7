package simplesockets

import "time"

// progress records that the writer's write moved bytes at now, and moves
// the write deadline on (at most every quarter of WriteTimeout: a timer
// update costs). Only the goroutine writing calls it.
func (c *Conn) progress(now time.Time) {
	c.busySince.Store(now.UnixNano())
	if wt := c.h.opts.WriteTimeout; wt > 0 && now.Sub(c.deadlineSet) > wt/4 {
		_ = c.nc.SetWriteDeadline(now.Add(wt)) // a failure shows in the write
		c.deadlineSet = now
	}
}
