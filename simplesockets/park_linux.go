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
// and run resumes it when it fires. One per Server, run in its group.
//
// run is also what keeps the group alive for the resumes: a connection
// holds the poller (acquire) from before it parks until its resume has
// started its goroutine (release), and once the serving context has ended
// run returns only when nothing holds it, so that no resume comes after the
// group's Wait. The methods are safe for concurrent use.
type idlePoller struct {
	epfd   int
	wakeFd int // an eventfd in the set: written to make run look at ctx and parked

	mu      sync.Mutex
	parked  map[uint64]*Conn // by Conn ID, the epoll event's data
	holds   int              // connections between acquire and release
	closing bool             // the serving context ended: acquire refuses, run ends when holds is 0
	closed  bool             // the fds are closed
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

// acquire holds the poller open for a connection about to park; false if
// it is ending.
func (p *idlePoller) acquire() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing || p.closed {
		return false
	}
	p.holds++
	return true
}

// release ends c's hold (taken by acquire) and forgets c.
func (p *idlePoller) release(c *Conn) {
	p.mu.Lock()
	delete(p.parked, c.id)
	p.holds--
	last := p.closing && p.holds == 0
	p.mu.Unlock()
	if last {
		p.notify() // run may end now
	}
}

// add registers c, which holds the poller; false if the poller is ending
// (nobody might look at the set any more) or epoll refused.
func (p *idlePoller) add(c *Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing || p.closed {
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

// remove forgets c; a no-op if c is not there. Its epoll registration is
// one-shot and goes with its socket.
func (p *idlePoller) remove(c *Conn) {
	p.mu.Lock()
	delete(p.parked, c.id)
	p.mu.Unlock()
}

// notify wakes run, unless its fds are closed.
func (p *idlePoller) notify() {
	one := uint64(1)
	p.mu.Lock()
	if !p.closed {
		syscall.Write(p.wakeFd, (*[8]byte)(unsafe.Pointer(&one))[:])
	}
	p.mu.Unlock()
}

// run resumes parked connections as they become readable. Once ctx has
// ended it refuses new ones and returns when none is left: the server's
// teardown (killAll) resumes them. If epoll fails, run resumes them all and
// returns; connections then wait on goroutines of their own.
func (p *idlePoller) run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, p.notify)
	defer stop()
	defer p.close()
	events := make([]syscall.EpollEvent, 64)
	var drain [8]byte
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			p.resumeAll()
			return nil
		}
		for i := range events[:n] {
			ev := &events[i]
			if ev.Fd == -1 && ev.Pad == -1 {
				syscall.Read(p.wakeFd, drain[:]) // reset the eventfd
				if ctx.Err() == nil {
					continue
				}
				p.mu.Lock()
				p.closing = true
				done := p.holds == 0
				p.mu.Unlock()
				if done {
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

// resumeAll refuses new connections and resumes the parked ones; run's
// goroutine calls it, so the group is alive for their goroutines.
func (p *idlePoller) resumeAll() {
	p.mu.Lock()
	p.closing = true
	left := make([]*Conn, 0, len(p.parked))
	for _, c := range p.parked {
		left = append(left, c)
	}
	p.mu.Unlock()
	for _, c := range left {
		c.unpark()
	}
}

// close closes the fds once run is over.
func (p *idlePoller) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	syscall.Close(p.wakeFd)
	syscall.Close(p.epfd)
}
