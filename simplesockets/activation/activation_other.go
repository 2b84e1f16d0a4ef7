//go:build !unix

package activation

import (
	"errors"
	"net"
	"os/exec"
)

// Listeners returns ErrNone: socket inheritance is for unix systems.
func Listeners() ([]Listener, error) { return nil, ErrNone }

// Pass is not supported here.
func Pass(cmd *exec.Cmd, lns []net.Listener, names ...string) error {
	return errors.New("activation: Pass needs a unix system")
}
