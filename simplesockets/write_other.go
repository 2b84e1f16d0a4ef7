//go:build !unix

package simplesockets

import "errors"

// rawIO is false where the socket is not a file descriptor to read(2) and
// write(2): every connection then reads with net.Conn.Read and writes on a
// writer goroutine of its own.
const rawIO = false

// write is never called without rawIO.
func (w *rawWrite) write(uintptr) bool {
	w.n, w.err = 0, errors.New("simplesockets: raw writes unsupported here")
	return true
}
