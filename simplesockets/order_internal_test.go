package simplesockets

import "testing"

// connectReceived never says a Connect was received when the channel holds
// more Connects than were counted when it looked (one sent and not yet
// counted, or sent since): the subtraction used to wrap around and say yes.
func TestConnectReceivedCountsConservatively(t *testing.T) {
	for _, tc := range []struct {
		sent    uint64
		inCh    int
		seq     uint64
		receive bool
	}{
		{sent: 5, inCh: 6, seq: 6, receive: false}, // the 6th is in the channel, not yet counted
		{sent: 5, inCh: 6, seq: 1, receive: false},
		{sent: 6, inCh: 6, seq: 1, receive: false}, // all six still in the channel
		{sent: 6, inCh: 5, seq: 1, receive: true},  // the first was taken
		{sent: 6, inCh: 5, seq: 2, receive: false},
		{sent: 6, inCh: 0, seq: 6, receive: true},
	} {
		h := &hub{connects: make(chan *Conn, 8)}
		h.connSent.Store(tc.sent)
		for range tc.inCh {
			h.connects <- nil
		}
		if got := h.connectReceived(&Conn{connSeq: tc.seq}); got != tc.receive {
			t.Errorf("sent %d, %d in the channel: Connect #%d received = %v, want %v", tc.sent, tc.inCh, tc.seq, got, tc.receive)
		}
	}
}
