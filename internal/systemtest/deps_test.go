package systemtest_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The dependency budget: a program using only the core packages links
// msgpack and cbor (and what they need) and nothing else: no puddle unless
// it picks that pool, no OpenTelemetry or Prometheus, which live in their
// own modules (fastrpcotel, fastrpcprom).
func TestCoreDependencyBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	core := []string{"../..", "../../master", "../../slave", "../../frame", "../../conn", "../../codec", "../../typed",
		"../../metadata", "../../module", "../../transport", "../../middleware", "../../poolimpl"}
	args := append([]string{"list", "-deps", "-f", "{{if .Module}}{{.Module.Path}}{{end}}"}, core...)
	out, err := exec.Command("go", args...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	var mods []string
	for _, m := range strings.Fields(string(out)) {
		if m != "github.com/AmanTrance/FastRpc" && !slices.Contains(mods, m) {
			mods = append(mods, m)
		}
	}
	slices.Sort(mods)
	require.Equal(t, []string{
		"github.com/fxamacker/cbor/v2",
		"github.com/vmihailenco/msgpack/v5",
		"github.com/vmihailenco/tagparser/v2",
		"github.com/x448/float16",
	}, mods)
}
