package simplesockets

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// While a reader is in its window (flusher) and Messages holds more, a Send
// does not wake the flusher goroutine: the reader writes the reply when it
// leaves the window. Once the application has taken every message, a Send
// wakes the flusher even during a window, also when its connection was
// queued earlier without a wake-up, so that the reply a peer waits for does
// not wait for a reader that has yielded.
func TestReaderWindowWritesQueuedReplies(t *testing.T) {
	tests := []struct {
		name      string
		pending   bool // an unread message sits in Messages during the first Send
		takeThen  bool // then the application takes it and Sends again
		want      string
		onlyLeave bool // written only when the window ends
	}{
		{"messages pending: the reader writes it", true, false, "reply", true},
		{"messages taken: the flusher writes it", false, false, "reply", false},
		{"queued, then messages taken: the flusher writes both", true, true, "replyagain", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serveInternal(t, ServerConfig{})
			nc, err := net.Dial("tcp", srv.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			var c *Conn
			select {
			case c = <-srv.Connects():
			case <-time.After(10 * time.Second):
				t.Fatal("no connection")
			}
			fl := srv.h.fl
			if tt.pending {
				if _, err := nc.Write([]byte("request")); err != nil {
					t.Fatal(err)
				}
				// Wait until the request is in Messages and its reader has
				// left its window (it is reading again), so that only the
				// test's window is open.
				deadline := time.Now().Add(10 * time.Second)
				for {
					fl.mu.Lock()
					active := fl.active
					fl.mu.Unlock()
					if len(srv.h.messages) == 1 && active == 0 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("the request never reached Messages")
					}
					time.Sleep(time.Millisecond) // polling a condition, with a deadline
				}
			}

			fl.enter() // as a reader that has just handed messages over
			if err := c.Send([]byte("reply")); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(tt.want))
			if tt.pending {
				// Not written yet: nobody was woken to write it.
				nc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
				if n, err := nc.Read(got); !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("read %d bytes, %v, with messages pending and the window open", n, err)
				}
			}
			if tt.takeThen {
				<-srv.Messages()
				if err := c.Send([]byte("again")); err != nil {
					t.Fatal(err)
				}
			}
			if tt.onlyLeave {
				fl.leave()
			}
			nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(nc, got); err != nil || string(got) != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
			if !tt.onlyLeave {
				fl.leave()
			}
		})
	}
}
