//go:build !unix

package simplesockets

// rawRead reads with net.Conn.Read where no read(2) is at hand.
func (r *reader) rawRead() (int, int, error) {
	if r.buf == nil {
		r.buf = make([]byte, r.c.h.opts.readSize)
	}
	space := len(r.buf) - r.end
	n, err := r.c.nc.Read(r.buf[r.end:])
	return n, space, err
}

// readOnce is not used here.
func (r *reader) readOnce(uintptr) bool { return true }
