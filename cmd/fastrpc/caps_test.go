package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCapsTable(t *testing.T) {
	d := startDemo(t)
	r := fastrpc(t, "caps", d.addr)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Empty(t, r.stderr)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	require.Greater(t, len(lines), 7)
	header := lines[0]
	assert.Regexp(t, `^METHOD +IN +OUT +DESCRIPTION$`, header)
	in, out, desc := strings.Index(header, "IN"), strings.Index(header, "OUT"), strings.Index(header, "DESCRIPTION")
	rows := map[string][]string{}
	for _, l := range lines[1:] {
		// Aligned: every column starts where its heading does.
		require.Greater(t, len(l), desc, l)
		assert.NotEqual(t, byte(' '), l[in], l)
		assert.Equal(t, byte(' '), l[in-1], l)
		assert.NotEqual(t, byte(' '), l[out], l)
		assert.NotEqual(t, byte(' '), l[desc], l)
		rows[strings.Fields(l)[0]] = []string{strings.TrimSpace(l[in:out]), strings.TrimSpace(l[out:desc]), l[desc:]}
	}
	assert.Equal(t, []string{"-", "-"}, rows["echo"][:2])
	assert.Equal(t, []string{"msgpack", "msgpack"}, rows["add"][:2])
	assert.Equal(t, []string{"cbor", "cbor"}, rows["stats"][:2])
	assert.Equal(t, []string{"json", "json"}, rows["greet"][:2])
	for _, m := range []string{"capabilities", "echo", "add", "stats", "greet", "slow", "stream", "sha256"} {
		assert.Contains(t, rows, m)
	}
	assert.Contains(t, rows["add"][2], `adds a and b: {"a": 1, "b": 2} -> {"sum": 3}`)
}

func TestCapsJSON(t *testing.T) {
	d := startDemo(t)
	r := fastrpc(t, "caps", d.addr, "--json")
	require.Equal(t, exitOK, r.code, r.stderr)
	var list []capability
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &list), r.stdout)
	byName := map[string]capability{}
	for _, c := range list {
		byName[c.Name] = c
	}
	assert.Equal(t, capability{Name: "echo", Description: "answers its request unchanged, streamed: any size, bounded memory"}, byName["echo"])
	assert.Equal(t, "msgpack", byName["add"].IncomingEncoding)
	assert.Equal(t, "msgpack", byName["add"].ReturningEncoding)
	assert.Equal(t, "cbor", byName["stats"].ReturningEncoding)
	assert.Equal(t, "json", byName["greet"].IncomingEncoding)
	assert.Contains(t, byName["add"].Description, "main.AddRequest -> main.AddResponse")
	assert.Len(t, list, 8)
	// The field names are part of the output's contract.
	var raw []map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &raw))
	assert.ElementsMatch(t, []string{"name", "description", "incoming_encoding", "returning_encoding"}, keys(raw[0]))
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
