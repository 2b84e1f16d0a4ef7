//go:build unix

package activation

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// firstFD is SD_LISTEN_FDS_START.
const firstFD = 3

// Listeners returns the listening sockets this process inherited, in the
// order they were passed. LISTEN_PID, if set, must be this process's ID
// (systemd sets it); a parent using Pass leaves it unset, since it cannot
// know its child's ID before starting it. It returns ErrNone if LISTEN_FDS
// is not set, and an error for a descriptor that is not a listening
// socket. The variables are unset in any case.
func Listeners() ([]Listener, error) {
	defer func() {
		for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
			os.Unsetenv(v)
		}
	}()
	nfds, ok := os.LookupEnv("LISTEN_FDS")
	if !ok {
		return nil, ErrNone
	}
	if pid, ok := os.LookupEnv("LISTEN_PID"); ok && pid != strconv.Itoa(os.Getpid()) {
		return nil, fmt.Errorf("activation: LISTEN_PID %s is not this process (%d)", pid, os.Getpid())
	}
	n, err := strconv.Atoi(nfds)
	if err != nil || n < 0 || n > 1024 {
		return nil, fmt.Errorf("activation: bad LISTEN_FDS %q", nfds)
	}
	names := strings.Split(os.Getenv("LISTEN_FDNAMES"), ":")
	var lns []Listener
	for i := range n {
		fd := firstFD + i
		syscall.CloseOnExec(fd)
		f := os.NewFile(uintptr(fd), fmt.Sprintf("LISTEN_FD_%d", fd))
		ln, err := net.FileListener(f) // dups fd
		f.Close()
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("activation: descriptor %d: %w", fd, err)
		}
		name := ""
		if i < len(names) {
			name = names[i]
		}
		lns = append(lns, Listener{ln, name})
	}
	return lns, nil
}

// Pass makes cmd inherit lns (each a *net.TCPListener or *net.UnixListener)
// as descriptors 3, 4, ... with LISTEN_FDS and LISTEN_FDNAMES set (names
// may be shorter than lns), for the child's Listeners. It must be called
// before cmd.Start and replaces cmd.ExtraFiles; close those files after
// cmd.Start (the child has its own copies). The caller keeps its own
// listeners: closing them after the child has started leaves the child's
// copies open, so the socket keeps accepting throughout. A Unix listener
// passed on must not remove its socket file when closed: call
// SetUnlinkOnClose(false) on it first.
func Pass(cmd *exec.Cmd, lns []net.Listener, names ...string) error {
	files := make([]*os.File, 0, len(lns))
	fail := func(err error) error {
		for _, f := range files {
			f.Close()
		}
		return err
	}
	for _, ln := range lns {
		if a, ok := ln.(Listener); ok {
			ln = a.Listener // (an inherited one, passed on again)
		}
		fl, ok := ln.(interface{ File() (*os.File, error) })
		if !ok {
			return fail(fmt.Errorf("activation: cannot pass a %T", ln))
		}
		f, err := fl.File() // a dup: the child gets its own descriptor
		if err != nil {
			return fail(fmt.Errorf("activation: %w", err))
		}
		files = append(files, f)
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	env = slices.DeleteFunc(slices.Clone(env), func(v string) bool {
		return strings.HasPrefix(v, "LISTEN_PID=") || strings.HasPrefix(v, "LISTEN_FDS=") || strings.HasPrefix(v, "LISTEN_FDNAMES=")
	})
	cmd.Env = append(env, "LISTEN_FDS="+strconv.Itoa(len(files)), "LISTEN_FDNAMES="+strings.Join(names, ":"))
	cmd.ExtraFiles = files
	return nil
}
