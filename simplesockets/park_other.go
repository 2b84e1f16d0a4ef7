//go:build !linux

package simplesockets

import "context"

// idlePoller is Linux's (park_linux.go); elsewhere connections wait on
// their goroutines.
type idlePoller struct{}

func newIdlePoller() *idlePoller                    { return nil }
func (p *idlePoller) acquire() bool                 { return false }
func (p *idlePoller) release(*Conn)                 {}
func (p *idlePoller) add(*Conn) bool                { return false }
func (p *idlePoller) remove(*Conn)                  {}
func (p *idlePoller) run(ctx context.Context) error { return nil }
