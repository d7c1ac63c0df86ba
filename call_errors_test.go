package fastrpc_test

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	fastrpc "github.com/AmanTrance/FastRpc"
	"github.com/AmanTrance/FastRpc/slave"
)

// The root package re-exports every sentinel of README's error table, as
// the same values as package slave's.
func TestErrorReexports(t *testing.T) {
	reexports := map[string][2]error{
		"ErrApplication":      {fastrpc.ErrApplication, slave.ErrApplication},
		"ErrUnknownMethod":    {fastrpc.ErrUnknownMethod, slave.ErrUnknownMethod},
		"ErrRequestTooLarge":  {fastrpc.ErrRequestTooLarge, slave.ErrRequestTooLarge},
		"ErrHandlerPanic":     {fastrpc.ErrHandlerPanic, slave.ErrHandlerPanic},
		"ErrPermissionDenied": {fastrpc.ErrPermissionDenied, slave.ErrPermissionDenied},
		"ErrShuttingDown":     {fastrpc.ErrShuttingDown, slave.ErrShuttingDown},
		"ErrOverloaded":       {fastrpc.ErrOverloaded, slave.ErrOverloaded},
		"ErrResponseTooLarge": {fastrpc.ErrResponseTooLarge, slave.ErrResponseTooLarge},
		"ErrUnavailable":      {fastrpc.ErrUnavailable, slave.ErrUnavailable},
		"ErrDialBackoff":      {fastrpc.ErrDialBackoff, slave.ErrDialBackoff},
		"ErrConnection":       {fastrpc.ErrConnection, slave.ErrConnection},
		"ErrProtocol":         {fastrpc.ErrProtocol, slave.ErrProtocol},
		"ErrClosed":           {fastrpc.ErrClosed, slave.ErrClosed},
	}
	for name, pair := range reexports {
		require.NotNil(t, pair[1], name)
		assert.True(t, pair[0] == pair[1], "fastrpc.%s is not slave.%s", name, name)
	}

	// Every slave sentinel README's error table names is re-exported.
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	table := regexp.MustCompile("(?s)\n### Errors\n.*?\n### ").Find(readme)
	require.NotNil(t, table, "README has no Errors section")
	names := regexp.MustCompile("`slave\\.(Err[A-Za-z]+)`").FindAllSubmatch(table, -1)
	require.NotEmpty(t, names)
	for _, n := range names {
		assert.Contains(t, reexports, string(n[1]), "README's error table names slave.%s", n[1])
	}
}
