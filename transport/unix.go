package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/AmanTrance/FastRpc/module"
)

// UnixDialer is the "dialer.unix" module: same-host calls over a unix
// socket, whose address is the socket's path. It dials network "unix"
// whatever network it is given, so the slave's Config.Network may be left
// empty.
//
//	{"module": "unix", "timeout": "1s"}
type UnixDialer struct {
	// Timeout bounds connecting. 0 leaves the bound to the caller's
	// context (the slave's DialTimeout).
	Timeout module.Duration `json:"timeout,omitempty"`
}

// FastRpcModule implements module.Module.
func (*UnixDialer) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: module.NamespaceDialer + ".unix", New: func() module.Module { return new(UnixDialer) }}
}

// Validate implements module.Validator.
func (d *UnixDialer) Validate() error {
	if d.Timeout < 0 {
		return errors.New("timeout: must not be negative (0 leaves the bound to the caller's context)")
	}
	return nil
}

// DialContext implements conn.Dialer; address is the socket's path.
func (d *UnixDialer) DialContext(ctx context.Context, _, address string) (net.Conn, error) {
	nd := net.Dialer{Timeout: d.Timeout.D()}
	return nd.DialContext(ctx, "unix", address)
}

// UnixListener is the "listener.unix" module: a unix socket at Path.
//
//	{"module": "unix", "path": "/run/app/rpc.sock", "mode": "0660", "remove_stale": true}
//
// The socket file is removed when the listener is closed (the master
// closes it when it stops serving) and by Cleanup.
type UnixListener struct {
	// Path of the socket file.
	Path string `json:"path"`
	// Mode, if not zero, is applied to the socket file after it is
	// created; connecting needs write permission. From JSON it is an octal
	// string such as "0600". Zero keeps what the umask gives.
	Mode FileMode `json:"mode,omitempty"`
	// RemoveStale removes a socket file left at Path by a process that
	// died, but only when it is a socket and nothing answers on it.
	// Without it such a file makes Listen fail.
	RemoveStale bool `json:"remove_stale,omitempty"`

	mu  sync.Mutex
	lns []*net.UnixListener
}

// FileMode is a file's permission bits. It reads from JSON as an octal
// string ("0600", "660" or "0o600") and writes as one.
type FileMode os.FileMode

// UnmarshalJSON implements json.Unmarshaler.
func (m *FileMode) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("mode %s: want an octal string such as \"0600\"", b)
	}
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0o"), 8, 32)
	if err != nil || v > 0o777 {
		return fmt.Errorf("mode %q: want octal permission bits from \"0000\" to \"0777\", such as \"0600\"", s)
	}
	*m = FileMode(v)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (m FileMode) MarshalJSON() ([]byte, error) {
	return json.Marshal(fmt.Sprintf("%04o", uint32(m)))
}

// FastRpcModule implements module.Module.
func (*UnixListener) FastRpcModule() module.ModuleInfo {
	return module.ModuleInfo{ID: module.NamespaceListener + ".unix", New: func() module.Module { return new(UnixListener) }}
}

// Validate implements module.Validator.
func (l *UnixListener) Validate() error {
	if l.Path == "" {
		return errors.New(`path is required: the socket file, such as "/run/app/rpc.sock"`)
	}
	if l.Mode&^0o777 != 0 {
		return fmt.Errorf("mode %#o: only permission bits (0 to 0777)", uint32(l.Mode))
	}
	return nil
}

// Listen implements Listener.
func (l *UnixListener) Listen(ctx context.Context) (net.Listener, error) {
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("listener.unix: %w", err)
	}
	if l.RemoveStale {
		if err := removeStale(ctx, l.Path); err != nil {
			return nil, fmt.Errorf("listener.unix: remove_stale: %w", err)
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", l.Path)
	if err != nil {
		switch _, serr := os.Lstat(l.Path); {
		case serr == nil && !l.RemoveStale:
			err = fmt.Errorf("%w (a file exists at path: if it is a socket left by a process that died, delete it or set remove_stale)", err)
		case len(l.Path) > 100:
			err = fmt.Errorf("%w (path is %d bytes; unix socket paths are limited to about 100)", err, len(l.Path))
		}
		return nil, fmt.Errorf("listener.unix: %w", err)
	}
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(true)
	if l.Mode != 0 {
		if err := os.Chmod(l.Path, os.FileMode(l.Mode)); err != nil {
			_ = ul.Close()
			return nil, fmt.Errorf("listener.unix: mode: %w", err)
		}
	}
	l.mu.Lock()
	l.lns = append(l.lns, ul)
	l.mu.Unlock()
	return ul, nil
}

// Cleanup implements module.CleanerUpper: it closes the listeners Listen
// returned, which removes their socket files.
func (l *UnixListener) Cleanup() error {
	l.mu.Lock()
	lns := l.lns
	l.lns = nil
	l.mu.Unlock()
	for _, ln := range lns {
		_ = ln.Close() // closed already when the master stopped serving it
	}
	return nil
}

// staleProbeTimeout bounds the dial that checks whether a socket file is
// in use.
const staleProbeTimeout = time.Second

// removeStale removes the socket file at path if nothing answers on it.
func removeStale(ctx context.Context, path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket; not removing it", path)
	}
	nd := net.Dialer{Timeout: staleProbeTimeout}
	c, err := nd.DialContext(ctx, "unix", path)
	if err == nil {
		_ = c.Close()
		return fmt.Errorf("%s: another process is listening on it", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%s: cannot tell whether it is in use, so not removing it: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
