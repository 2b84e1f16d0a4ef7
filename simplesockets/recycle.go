package simplesockets

import (
	"sync"
	"sync/atomic"
	"unsafe"
	"weak"

	"github.com/simplesockets/simplesockets-go/internal/bufpool"
)

// Recycling large messages. A frame too big for the read buffer is read into
// a buffer of its own from bufpool and handed out as Message.Data. If the
// application sends that Data back on the connection it arrived on
// (m.Conn.Send(m.Data): an echo, or a reply built in place), the buffer goes
// back to bufpool once Send has copied it, instead of becoming garbage: an
// echo of 64 KiB messages then allocates nothing per message, and the
// garbage collector, which was most of the cost, has nothing to do
// (BENCHMARKS.md, S4). A Data sent anywhere else (another connection,
// Broadcast) is only copied, so code that sends one Data to many peers is
// unaffected.
//
// Which Data may be recycled is recorded in lent: the Data's first byte's
// address → weak pointers to the whole buffer and to the Conn it arrived on.
// Weak pointers keep nothing alive: a Data the application keeps and never
// sends is collected as usual, and its entry can no longer match (Value
// returns nil, even if the address is reused). The table is bounded
// (maxLent, oldest entries evicted), so a server that never sends what it
// receives does not grow it. Options.KeepData turns lending off for a Server
// or Client.
//
// Under the race detector a reclaimed buffer is overwritten at once
// (poisonByte), so that a test that uses a Data after sending it back sees
// garbage every time instead of once in a while.

const (
	maxLent    = 4096    // bounds the table of lent buffers
	minLent    = 4 << 10 // smaller frames are not worth a table entry
	poisonByte = 0xDD
)

type lentBuf struct {
	buf  weak.Pointer[byte] // the buffer's first byte
	conn weak.Pointer[Conn] // the connection the Data arrived on
	cap  int                // the buffer's capacity, for bufpool
	size int                // len(Data)
	seq  uint64
}

type lentKey struct {
	addr uintptr
	seq  uint64
}

// lending is the table of lent buffers, shared by every Server and Client.
// Safe for concurrent use.
type lending struct {
	n    atomic.Int64 // entries in m: Send skips the lock when it is 0
	mu   sync.Mutex
	m    map[uintptr]lentBuf
	ring [maxLent]lentKey // insertion order, for eviction
	next int
	seq  uint64
}

var lent = lending{m: make(map[uintptr]lentBuf)}

// lend records that data, the only frame in buf (a buffer from bufpool),
// arrived on c and is handed to the application, and may come back through
// c.Send.
func (l *lending) lend(data, buf []byte, c *Conn) {
	if len(data) < minLent || cap(buf) > bufpool.MaxSize {
		return
	}
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	e := lentBuf{
		buf:  weak.Make(unsafe.SliceData(buf[:1])),
		conn: weak.Make(c),
		cap:  cap(buf),
		size: len(data),
	}
	l.mu.Lock()
	l.seq++
	e.seq = l.seq
	old := l.ring[l.next]
	if o, ok := l.m[old.addr]; ok && o.seq == old.seq {
		delete(l.m, old.addr)
	}
	l.ring[l.next] = lentKey{addr: addr, seq: e.seq}
	l.next = (l.next + 1) % maxLent
	l.m[addr] = e
	l.n.Store(int64(len(l.m)))
	l.mu.Unlock()
}

// reclaim returns data's whole buffer to bufpool if data is exactly a Data
// lent on c (same address and length) whose buffer is still alive. The
// caller has finished with data.
func (l *lending) reclaim(data []byte, c *Conn) {
	if len(data) < minLent || len(data) != cap(data) || l.n.Load() == 0 {
		return
	}
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	wc := weak.Make(c)
	l.mu.Lock()
	e, ok := l.m[addr]
	ok = ok && e.size == len(data) && e.conn == wc
	if ok {
		delete(l.m, addr)
		l.n.Store(int64(len(l.m)))
	}
	l.mu.Unlock()
	if !ok {
		return
	}
	p := e.buf.Value()
	if p == nil {
		return // collected; the address now belongs to someone else
	}
	buf := unsafe.Slice(p, e.cap)
	if raceEnabled {
		for i := range buf {
			buf[i] = poisonByte
		}
	}
	bufpool.Put(buf[:0])
}
