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
// application passes that Data to Send (or Broadcast), the buffer goes back
// to bufpool once Send has copied it, instead of becoming garbage: an echo
// or a proxy of 64 KiB messages then allocates nothing per message, and the
// garbage collector, which was most of the cost, has nothing to do
// (BENCHMARKS.md, S4).
//
// Which Data may be recycled is recorded in lent: the Data's first byte's
// address → a weak pointer to the whole buffer. The weak pointer keeps
// nothing alive: a Data the application keeps and never sends is collected
// as usual, and its entry can no longer match (Value returns nil, even if the
// address is reused). The table is bounded (maxLent, oldest entries evicted),
// so a server that never sends what it receives does not grow it.
// Options.KeepData turns lending off for a Server or Client.

const (
	maxLent = 4096    // bounds the table of lent buffers
	minLent = 4 << 10 // smaller frames are not worth a table entry
)

type lentBuf struct {
	buf  weak.Pointer[byte] // the buffer's first byte
	cap  int                // the buffer's capacity, for bufpool
	size int                // len(Data)
	seq  uint64
}

type lentKey struct {
	addr uintptr
	seq  uint64
}

// lending is the table of lent buffers, shared by every Server and Client
// (a proxy sends what one receives on the other). Safe for concurrent use.
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
// is handed to the application and may come back through Send.
func (l *lending) lend(data, buf []byte) {
	if len(data) < minLent {
		return
	}
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	wp := weak.Make(unsafe.SliceData(buf[:1]))
	l.mu.Lock()
	l.seq++
	old := l.ring[l.next]
	if e, ok := l.m[old.addr]; ok && e.seq == old.seq {
		delete(l.m, old.addr)
	}
	l.ring[l.next] = lentKey{addr: addr, seq: l.seq}
	l.next = (l.next + 1) % maxLent
	l.m[addr] = lentBuf{buf: wp, cap: cap(buf), size: len(data), seq: l.seq}
	l.n.Store(int64(len(l.m)))
	l.mu.Unlock()
}

// reclaim returns data's whole buffer to bufpool if data is exactly a lent
// Data (same address and length) whose buffer is still alive. The caller
// has finished with data.
func (l *lending) reclaim(data []byte) {
	if len(data) < minLent || len(data) != cap(data) || l.n.Load() == 0 {
		return
	}
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	l.mu.Lock()
	e, ok := l.m[addr]
	ok = ok && e.size == len(data)
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
	bufpool.Put(unsafe.Slice(p, e.cap)[:0])
}
