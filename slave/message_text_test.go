package slave_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/frame"
	"github.com/AmanTrance/FastRpc/master"
	"github.com/AmanTrance/FastRpc/slave"
)

// The master sends a handler's message as the handler wrote it, whichever
// way it was written; the caller's error shows the "fastrpc: " prefix once.
func TestRemoteMessageIsTheHandlersText(t *testing.T) {
	_, addr := serveMaster(t, master.Config{}, map[string]master.Handler{
		"denied": func(*master.IOOperator) error {
			return fmt.Errorf("user bob: %w", master.ErrPermissionDenied)
		},
		"prefixed": func(*master.IOOperator) error { return errors.New("fastrpc: my own text") },
		"written":  func(op *master.IOOperator) error { return op.WriteError("fastrpc: my own text") },
		"coded": func(*master.IOOperator) error {
			return master.WithCode(fmt.Errorf("no entry %d", 7), 404)
		},
	})
	s := dialSlave(t, addr, slave.Config{})
	cases := []struct {
		method, msg string
		status      frame.Status
		code        uint32
		text        string
	}{
		{"denied", "user bob: permission denied", frame.StatusPermissionDenied, 0,
			`fastrpc: call "denied": permission denied: user bob: permission denied`},
		{"prefixed", "fastrpc: my own text", frame.StatusApplicationError, 0,
			`fastrpc: call "prefixed": application error: my own text`},
		{"written", "fastrpc: my own text", frame.StatusApplicationError, 0,
			`fastrpc: call "written": application error: my own text`},
		{"coded", "no entry 7", frame.StatusApplicationError, 404,
			`fastrpc: call "coded": application error (code 404): no entry 7`},
	}
	for _, c := range cases {
		_, err := s.Call(callCtx(t), c.method, nil)
		var re *slave.RemoteError
		require.ErrorAs(t, err, &re, c.method)
		require.Equal(t, c.msg, re.Message, "%s: the message crosses unchanged", c.method)
		require.Equal(t, c.status, re.Status, c.method)
		require.Equal(t, c.code, re.Code, c.method)
		require.Equal(t, c.text, err.Error(), c.method)
		require.Equal(t, 1, strings.Count(err.Error(), "fastrpc: "), c.method)
	}
}
