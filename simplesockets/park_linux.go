//go:build linux

package simplesockets

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"unsafe"
)

// idlePoller watches parked connections (park.go) with an epoll set of its
// own, beside the runtime's: each is registered one-shot for readability,
// and run resumes it when it fires. One per Server, run in its group; the
// methods are safe for concurrent use.
type idlePoller struct {
	epfd   int
	wakeFd int // an eventfd in the set: written to stop run

	mu     sync.Mutex
	parked map[uint64]*Conn // by Conn ID, the epoll event's data
	closed bool             // run has ended: add refuses
}

// newIdlePoller returns a poller, or nil if the system refuses one (the
// connections then wait on their goroutines, as without it).
func newIdlePoller() *idlePoller {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	r, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if errno != 0 {
		syscall.Close(epfd)
		return nil
	}
	p := &idlePoller{epfd: epfd, wakeFd: int(r), parked: make(map[uint64]*Conn)}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: -1, Pad: -1}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.wakeFd, &ev); err != nil {
		syscall.Close(p.wakeFd)
		syscall.Close(epfd)
		return nil
	}
	return p
}

// epollData packs a Conn ID into the event's 8 bytes of data.
func epollData(id uint64) (fd, pad int32) { return int32(uint32(id)), int32(uint32(id >> 32)) }

func epollID(ev *syscall.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

// add registers c; false if the poller has ended or epoll refused.
func (p *idlePoller) add(c *Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	fd, pad := epollData(c.id)
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: fd, Pad: pad}
	var err error
	cerr := c.raw.Control(func(sfd uintptr) {
		err = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(sfd), &ev)
	})
	if cerr != nil || err != nil {
		return false
	}
	p.parked[c.id] = c
	return true
}

// remove forgets c (resumed). Its registration is one-shot and goes with
// its socket.
func (p *idlePoller) remove(c *Conn) {
	p.mu.Lock()
	delete(p.parked, c.id)
	p.mu.Unlock()
}

// run resumes parked connections as they become readable, until ctx ends.
// The connections still parked then are resumed by the server's teardown
// (killAll). If epoll fails, run resumes them all and ends: they wait on
// goroutines of their own from then on (add refuses).
func (p *idlePoller) run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		one := uint64(1)
		syscall.Write(p.wakeFd, (*[8]byte)(unsafe.Pointer(&one))[:])
	})
	defer stop()
	defer func() {
		p.mu.Lock()
		p.closed = true
		var left []*Conn
		if ctx.Err() == nil {
			for _, c := range p.parked {
				left = append(left, c)
			}
		}
		p.mu.Unlock()
		syscall.Close(p.wakeFd)
		syscall.Close(p.epfd)
		for _, c := range left {
			c.unpark()
		}
	}()
	events := make([]syscall.EpollEvent, 64)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return nil // the connections wait in place of the poller: see park
		}
		for i := range events[:n] {
			ev := &events[i]
			if ev.Fd == -1 && ev.Pad == -1 {
				if ctx.Err() != nil {
					return nil
				}
				continue
			}
			p.mu.Lock()
			c := p.parked[epollID(ev)]
			p.mu.Unlock()
			if c != nil {
				c.unpark()
			}
		}
	}
}
