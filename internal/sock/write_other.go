//go:build !unix

package sock

// RawWrites says whether Writer reports progress per system call (else per
// chunk, and every write may find the socket full).
const RawWrites = false

func (w *Writer) rawWrite(b []byte) (int, error) { return w.Conn.Write(b) }
