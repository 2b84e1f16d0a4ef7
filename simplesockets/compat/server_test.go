package compat_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
	"github.com/simplesockets/simplesockets-go/simplesockets/compat"
)

// The manual's echo server: poll, send back, disconnect.
func TestServerEchoPolling(t *testing.T) {
	gotData, onRecv := signal()
	connected := make(chan string, 1)
	disconnected := make(chan string, 1)
	srv, addr := startServer(t, 0, compat.ServerSetup{
		OnConnect:    func(a string) { connected <- a },
		OnDisconnect: func(a string) { disconnected <- a },
		OnReceive:    func(*ss.Conn, string, []byte) { onRecv() },
	})
	if srv.MaxConnections() != 0 {
		t.Fatalf("MaxConnections = %d", srv.MaxConnections())
	}
	eventually(t, "Accepting", srv.Accepting)
	c := dial(t, addr)
	me := c.LocalAddr().String()
	if a := recvOr(t, connected, "OnConnect"); a != me {
		t.Fatalf("OnConnect(%q), want %q", a, me)
	}
	if _, ok := srv.Clients()[me]; !ok {
		t.Fatalf("Clients() = %v, want key %q", srv.Clients(), me)
	}
	if _, err := c.Write([]byte("Test")); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for len(got) < 4 {
		select {
		case <-gotData:
		case <-time.After(wait):
			t.Fatal("no data")
		}
		if !srv.NewData() {
			continue
		}
		for _, d := range srv.ReturnRecvedData() {
			if d.Address != me || d.Conn.RemoteAddr().String() != me || d.Time.IsZero() {
				t.Fatalf("item %+v", d)
			}
			got = append(got, d.Data...)
			if err := srv.SendData(d.Data, d.Conn); err != nil {
				t.Fatal(err)
			}
			if err := srv.Disconnect(d.Address); err != nil {
				t.Fatal(err)
			}
		}
	}
	if string(got) != "Test" || srv.NewData() {
		t.Fatalf("got %q, NewData %v", got, srv.NewData())
	}
	c.SetReadDeadline(time.Now().Add(wait))
	echo, err := io.ReadAll(c) // the echo, then EOF: flushed before the close
	if err != nil || string(echo) != "Test" {
		t.Fatalf("client read %q, %v", echo, err)
	}
	if a := recvOr(t, disconnected, "OnDisconnect"); a != me {
		t.Fatalf("OnDisconnect(%q)", a)
	}
	if err := srv.Disconnect(me); !errors.Is(err, compat.ErrNotFound) {
		t.Fatalf("Disconnect of a gone client: %v", err)
	}
	if srv.ExceptionOccurred() {
		t.Fatalf("exceptions: %v", srv.ReturnExceptions(false, false))
	}
}

func TestServerSetupErrors(t *testing.T) {
	srv := compat.NewServer(0)
	if err := srv.Start(); !errors.Is(err, compat.ErrNotSetUp) {
		t.Fatalf("Start before Setup: %v", err)
	}
	if err := srv.Setup(compat.ServerSetup{Port: compat.AnyPort, RecvBuffer: -1}); !errors.Is(err, ss.ErrInvalidConfig) {
		t.Fatalf("negative RecvBuffer: %v", err)
	}
	if err := srv.Setup(compat.ServerSetup{Port: compat.AnyPort}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Setup(compat.ServerSetup{Port: compat.AnyPort}); !errors.Is(err, compat.ErrSetUp) {
		t.Fatalf("second Setup: %v", err)
	}
	if a := srv.Addr().(*net.TCPAddr); !a.IP.IsLoopback() || a.Port == 0 {
		t.Fatalf("Addr = %v", a)
	}
	if srv.Accepting() {
		t.Fatal("Accepting before Start")
	}
	srv.Close()
	srv.Close() // idempotent
	if err := srv.Start(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
	if !srv.Killed() {
		t.Fatal("Killed after Close")
	}
	if _, err := srv.AwaitEvent(0); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("AwaitEvent after Close: %v", err)
	}
	if err := compat.NewServer(-1).Setup(compat.ServerSetup{Port: compat.AnyPort}); !errors.Is(err, ss.ErrInvalidConfig) {
		t.Fatalf("negative max connections: %v", err)
	}
}

// At max connections the server stops accepting (the next client waits in
// the backlog) and resumes when one leaves.
func TestServerMaxConnectionsPauseResume(t *testing.T) {
	srv, addr := startServer(t, 2, compat.ServerSetup{})
	c1 := dial(t, addr)
	awaitKind(t, srv, compat.EventConnect)
	dial(t, addr)
	awaitKind(t, srv, compat.EventConnect)
	eventually(t, "Accepting false at the limit", func() bool { return !srv.Accepting() })

	c3 := dial(t, addr) // completes in the kernel's backlog
	expectQuiet(t, srv, 300*time.Millisecond)
	if n := len(srv.Clients()); n != 2 {
		t.Fatalf("%d clients at a limit of 2", n)
	}

	c1.Close()
	if ev := awaitKind(t, srv, compat.EventDisconnect); ev.Address != c1.LocalAddr().String() {
		t.Fatalf("disconnect of %s", ev.Address)
	}
	if ev := awaitKind(t, srv, compat.EventConnect); ev.Address != c3.LocalAddr().String() {
		t.Fatalf("connect of %s, want the waiting client %s", ev.Address, c3.LocalAddr())
	}
	if _, ok := srv.Clients()[c3.LocalAddr().String()]; !ok {
		t.Fatal("waiting client not in Clients after resume")
	}
}

func TestServerStopStart(t *testing.T) {
	srv, addr := startServer(t, 0, compat.ServerSetup{})
	dial(t, addr)
	awaitKind(t, srv, compat.EventConnect)
	eventually(t, "Accepting", srv.Accepting)

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if srv.Accepting() || srv.Killed() {
		t.Fatalf("after Stop: Accepting %v, Killed %v", srv.Accepting(), srv.Killed())
	}
	c2 := dial(t, addr) // waits in the backlog
	expectQuiet(t, srv, 300*time.Millisecond)

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if ev := awaitKind(t, srv, compat.EventConnect); ev.Address != c2.LocalAddr().String() {
		t.Fatalf("connect of %s", ev.Address)
	}
	eventually(t, "Accepting after Start", srv.Accepting)
}

// ExitAccept refuses new clients and keeps the connected ones; Restart
// listens again on the same address.
func TestServerExitAcceptRestart(t *testing.T) {
	srv, addr := startServer(t, 0, compat.ServerSetup{})
	c1 := dial(t, addr)
	ev := awaitKind(t, srv, compat.EventConnect)

	if err := srv.ExitAccept(); err != nil {
		t.Fatal(err)
	}
	if !srv.Killed() || srv.Accepting() {
		t.Fatalf("after ExitAccept: Killed %v, Accepting %v", srv.Killed(), srv.Accepting())
	}
	if c, err := net.DialTimeout("tcp", addr, wait); err == nil {
		c.Close()
		t.Fatal("dial succeeded after ExitAccept")
	}
	// The connected client keeps working both ways.
	if _, err := c1.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if d := awaitKind(t, srv, compat.EventData); string(d.Data) != "ping" {
		t.Fatalf("data %q", d.Data)
	}
	if err := srv.SendData([]byte("pong"), ev.Conn); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	c1.SetReadDeadline(time.Now().Add(wait))
	if _, err := io.ReadFull(c1, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("read %q, %v", buf, err)
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if srv.Killed() || srv.Addr().String() != addr {
		t.Fatalf("after Restart: Killed %v, Addr %v", srv.Killed(), srv.Addr())
	}
	c2 := dial(t, addr)
	if ev := awaitKind(t, srv, compat.EventConnect); ev.Address != c2.LocalAddr().String() {
		t.Fatalf("connect of %s", ev.Address)
	}
}

// A clean close (FIN) and a reset (RST) both give the hook, the event and
// the state.
func TestServerPeerDisconnect(t *testing.T) {
	tests := []struct {
		name   string
		linger bool
		reason error
	}{
		{"FIN", false, io.EOF},
		{"RST", true, ss.ErrConnReset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gone := make(chan string, 1)
			srv, addr := startServer(t, 0, compat.ServerSetup{OnDisconnect: func(a string) { gone <- a }})
			c := dial(t, addr)
			me := c.LocalAddr().String()
			awaitKind(t, srv, compat.EventConnect)
			if _, ok := srv.Clients()[me]; !ok {
				t.Fatal("not in Clients")
			}
			if tt.linger {
				if err := c.SetLinger(0); err != nil {
					t.Fatal(err)
				}
			}
			c.Close()
			ev := awaitKind(t, srv, compat.EventDisconnect)
			if ev.Address != me || !errors.Is(ev.Err, tt.reason) {
				t.Fatalf("disconnect %s: %v, want %s: %v", ev.Address, ev.Err, me, tt.reason)
			}
			if a := recvOr(t, gone, "OnDisconnect"); a != me {
				t.Fatalf("OnDisconnect(%q)", a)
			}
			if _, ok := srv.Clients()[me]; ok {
				t.Fatal("still in Clients")
			}
		})
	}
}

// pattern is the deterministic stream sender i writes.
func pattern(i, n int) []byte {
	b := make([]byte, n)
	for k := range b {
		b[k] = byte(i*31 + k*7 + k>>8)
	}
	return b
}

// Many senders, a consumer draining concurrently: every byte arrives once,
// in order per connection.
func TestServerDrainWithoutLoss(t *testing.T) {
	const senders, writes = 12, 150
	tests := []struct {
		name           string
		polling, await bool
	}{
		{"ReturnRecvedData", true, false},
		{"AwaitEvent", false, true},
		{"both", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newData, onRecv := signal()
			srv, addr := startServer(t, 0, compat.ServerSetup{
				OnReceive: func(*ss.Conn, string, []byte) { onRecv() },
			})
			var (
				mu    sync.Mutex
				got   = map[string][]byte{}
				total atomic.Int64
			)
			collect := func(addr string, data []byte) {
				mu.Lock()
				got[addr] = append(got[addr], data...)
				mu.Unlock()
				total.Add(int64(len(data)))
			}
			stop := make(chan struct{})
			var consumers sync.WaitGroup
			if tt.polling {
				consumers.Add(1)
				go func() {
					defer consumers.Done()
					for {
						select {
						case <-newData:
						case <-stop:
							return
						}
						for _, d := range srv.ReturnRecvedData() {
							collect(d.Address, d.Data)
						}
					}
				}()
			}
			if tt.await {
				consumers.Add(1)
				go func() {
					defer consumers.Done()
					for {
						ev, err := srv.AwaitEvent(0)
						if err != nil {
							return // closed
						}
						if ev.Kind == compat.EventData {
							collect(ev.Address, ev.Data)
						}
					}
				}()
			}

			want := map[string][]byte{}
			var wantTotal int64
			var senderWG sync.WaitGroup
			for i := range senders {
				c := dial(t, addr)
				stream := pattern(i, writes*(1+i*97%3000))
				want[c.LocalAddr().String()] = stream
				wantTotal += int64(len(stream))
				senderWG.Add(1)
				go func() {
					defer senderWG.Done()
					chunk := len(stream) / writes
					for off := 0; off < len(stream); off += chunk {
						if _, err := c.Write(stream[off:min(off+chunk, len(stream))]); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			senderWG.Wait()
			eventually(t, "all bytes collected", func() bool {
				onRecv() // let the polling consumer look once more
				return total.Load() >= wantTotal
			})
			srv.Close()
			close(stop)
			consumers.Wait()
			for _, d := range srv.ReturnRecvedData() { // nothing may be left
				collect(d.Address, d.Data)
			}
			if total.Load() != wantTotal {
				t.Fatalf("collected %d bytes, want %d", total.Load(), wantTotal)
			}
			for a, w := range want {
				g := got[a]
				if tt.polling && tt.await {
					// Two consumers interleave items: compare contents.
					if len(g) != len(w) || sum(g) != sum(w) {
						t.Fatalf("%s: %d bytes (sum %d), want %d (sum %d)", a, len(g), sum(g), len(w), sum(w))
					}
					continue
				}
				if !bytes.Equal(g, w) {
					t.Fatalf("%s: stream differs (%d bytes, want %d)", a, len(g), len(w))
				}
			}
		})
	}
}

func sum(b []byte) (s uint64) {
	for _, x := range b {
		s += uint64(x)
	}
	return s
}

// The exception list keeps distinct entries (three in the same instant
// stay three) and honours delete and reset.
func TestServerExceptions(t *testing.T) {
	tests := []struct {
		del, reset bool
	}{
		{false, false}, {false, true}, {true, false}, {true, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("delete=%v,reset=%v", tt.del, tt.reset), func(t *testing.T) {
			srv, addr := startServer(t, 0, compat.ServerSetup{
				OnConnect: func(a string) { panic("boom " + a) },
			})
			if srv.ExceptionOccurred() || len(srv.ReturnExceptions(false, false)) != 0 {
				t.Fatal("exceptions before any")
			}
			addrs := map[string]bool{}
			for range 3 {
				addrs[dial(t, addr).LocalAddr().String()] = true
			}
			eventually(t, "3 exceptions", func() bool { return len(srv.ReturnExceptions(false, false)) == 3 })
			if !srv.ExceptionOccurred() {
				t.Fatal("ExceptionOccurred false")
			}
			excs := srv.ReturnExceptions(tt.del, tt.reset)
			if len(excs) != 3 {
				t.Fatalf("%d exceptions, want 3", len(excs))
			}
			for _, e := range excs {
				if !errors.Is(e.Err, compat.ErrHookPanic) || !errors.Is(e, compat.ErrHookPanic) || !addrs[e.Address] || e.Time.IsZero() {
					t.Fatalf("exception %+v", e)
				}
				delete(addrs, e.Address) // distinct entries, one per client
			}
			wantLen := 3
			if tt.del {
				wantLen = 0
			}
			if n := len(srv.ReturnExceptions(false, false)); n != wantLen {
				t.Fatalf("%d exceptions left, want %d", n, wantLen)
			}
			if srv.ExceptionOccurred() == tt.reset {
				t.Fatalf("ExceptionOccurred = %v after reset=%v", srv.ExceptionOccurred(), tt.reset)
			}
		})
	}
}

// A failed SendData is returned and recorded.
func TestServerSendDataErrorRecorded(t *testing.T) {
	srv, addr := startServer(t, 0, compat.ServerSetup{})
	c := dial(t, addr)
	ev := awaitKind(t, srv, compat.EventConnect)
	c.Close()
	awaitKind(t, srv, compat.EventDisconnect)
	err := srv.SendData([]byte("late"), ev.Conn)
	if !errors.Is(err, ss.ErrClosed) {
		t.Fatalf("SendData on a gone conn: %v", err)
	}
	excs := srv.ReturnExceptions(true, true)
	if len(excs) != 1 || !errors.Is(excs[0].Err, ss.ErrClosed) || excs[0].Address != ev.Address {
		t.Fatalf("exceptions %v", excs)
	}
}

func TestServerAwaitEvent(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		srv, _ := startServer(t, 0, compat.ServerSetup{})
		start := time.Now()
		expectQuiet(t, srv, 50*time.Millisecond)
		if d := time.Since(start); d < 50*time.Millisecond {
			t.Fatalf("returned after %v", d)
		}
	})
	t.Run("no timeout", func(t *testing.T) {
		srv, addr := startServer(t, 0, compat.ServerSetup{})
		type result struct {
			ev  compat.Event
			err error
		}
		res := make(chan result)
		go func() {
			for {
				ev, err := srv.AwaitEvent(0)
				if err != nil || ev.Kind == compat.EventData {
					res <- result{ev, err}
					return
				}
			}
		}()
		c := dial(t, addr)
		c.Write([]byte("x"))
		select {
		case r := <-res:
			if r.err != nil || string(r.ev.Data) != "x" || r.ev.Address != c.LocalAddr().String() {
				t.Fatalf("%+v", r)
			}
		case <-time.After(wait):
			t.Fatal("AwaitEvent(0) did not return the data")
		}
		// The data went to AwaitEvent, not to the list.
		if srv.NewData() || len(srv.ReturnRecvedData()) != 0 {
			t.Fatal("data returned twice")
		}
	})
	t.Run("order and Close", func(t *testing.T) {
		srv, addr := startServer(t, 0, compat.ServerSetup{})
		c := dial(t, addr)
		c.Write([]byte("a"))
		eventually(t, "data", srv.NewData)
		c.Close()
		eventually(t, "disconnected", func() bool { return len(srv.Clients()) == 0 })
		blocked := make(chan error)
		go func() {
			var kinds []compat.EventKind
			for {
				ev, err := srv.AwaitEvent(0)
				if err != nil {
					if fmt.Sprint(kinds) != "[connect data disconnect]" {
						err = fmt.Errorf("events %v", kinds)
					} else if !errors.Is(err, net.ErrClosed) {
						err = fmt.Errorf("after Close: %w", err)
					} else {
						err = nil
					}
					blocked <- err
					return
				}
				kinds = append(kinds, ev.Kind)
			}
		}()
		eventually(t, "disconnect taken", func() bool { return !srv.NewData() })
		srv.Close()
		select {
		case err := <-blocked:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(wait):
			t.Fatal("AwaitEvent(0) not unblocked by Close")
		}
	})
}

// HandleClient replaces the default handling; RecvBuffer bounds one read.
func TestServerHandleClientRecvBuffer(t *testing.T) {
	var mu sync.Mutex
	var got []byte
	maxItem := 0
	srv, addr := startServer(t, 0, compat.ServerSetup{
		RecvBuffer: 16,
		HandleClient: func(conn *ss.Conn, a string, data []byte) {
			mu.Lock()
			got = append(got, data...)
			maxItem = max(maxItem, len(data))
			mu.Unlock()
		},
	})
	c := dial(t, addr)
	payload := pattern(1, 1000)
	c.Write(payload)
	eventually(t, "all bytes", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == len(payload) })
	mu.Lock()
	defer mu.Unlock()
	if !bytes.Equal(got, payload) || maxItem > 16 {
		t.Fatalf("got %d bytes, largest item %d", len(got), maxItem)
	}
	if srv.NewData() {
		t.Fatal("HandleClient set, yet data in the list")
	}
}
