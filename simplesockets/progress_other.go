//go:build !unix

package simplesockets

const rawWrites = false

func (p *progressConn) rawWrite(b []byte) (int, error) { return p.Conn.Write(b) }
