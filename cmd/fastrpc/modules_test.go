package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestModules(t *testing.T) {
	r := fastrpc(t, "modules")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Empty(t, r.stderr)
	for _, want := range []string{
		"codec\n", "  codec.msgpack\n", "  codec.cbor\n", "  codec.json\n", "  codec.raw\n",
		"dialer\n", "  dialer.tcp\n", "  dialer.tls\n", "  dialer.unix\n",
		"pool\n", "  pool.mutex\n", "  pool.puddle\n",
		"slave.middleware\n", "  slave.middleware.logging\n",
	} {
		assert.Contains(t, r.stdout, want)
	}

	r = fastrpc(t, "modules", "--json")
	require.Equal(t, exitOK, r.code, r.stderr)
	var byNamespace map[string][]string
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &byNamespace), r.stdout)
	assert.Contains(t, byNamespace["codec"], "codec.msgpack")
	assert.Contains(t, byNamespace["pool"], "pool.mutex")
	assert.Contains(t, byNamespace["dialer"], "dialer.tcp")
	assert.Contains(t, byNamespace["master.middleware"], "master.middleware.logging")
}
