package simplesockets_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	ss "github.com/simplesockets/simplesockets-go/simplesockets"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The logger gets structured attributes (conn id, remote address, reason)
// and never a payload.
func TestLoggingIsStructuredAndWithoutPayloads(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, addr := startServer(t, ss.ServerConfig{Options: ss.Options{Framing: ss.LengthPrefixed(8), Logger: logger}})
	nc := dialRaw(t, addr)
	recv(t, srv.Connects(), "connect")
	nc.Write(len32([]byte("SECRET")))
	nc.Write(len32([]byte("TOO-LONG-SECRET")))
	recv(t, srv.Disconnects(), "disconnect")
	srv.Close()
	out := buf.String()
	for _, want := range []string{`"msg":"connected"`, `"msg":"disconnected"`, `"conn":1`, `"remote":"127.0.0.1:`, `"reason":"simplesockets: message too large`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "SECRET") {
		t.Errorf("log contains a payload:\n%s", out)
	}
}
