package systemtest_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/AmanTrance/FastRpc/slave"
)

// sentinels are package slave's exported error variables, by name.
var sentinels = map[string]error{
	"ErrApplication":         slave.ErrApplication,
	"ErrUnknownMethod":       slave.ErrUnknownMethod,
	"ErrRequestTooLarge":     slave.ErrRequestTooLarge,
	"ErrHandlerPanic":        slave.ErrHandlerPanic,
	"ErrPermissionDenied":    slave.ErrPermissionDenied,
	"ErrShuttingDown":        slave.ErrShuttingDown,
	"ErrOverloaded":          slave.ErrOverloaded,
	"ErrResponseTooLarge":    slave.ErrResponseTooLarge,
	"ErrUnavailable":         slave.ErrUnavailable,
	"ErrDialBackoff":         slave.ErrDialBackoff,
	"ErrConnection":          slave.ErrConnection,
	"ErrProtocol":            slave.ErrProtocol,
	"ErrClosed":              slave.ErrClosed,
	"ErrMetadataUnsupported": slave.ErrMetadataUnsupported,
}

// exportedErrVars returns the names of the exported package-level
// variables named Err* in the non-test Go files of dir.
func exportedErrVars(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err)
	var names []string
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				for _, id := range spec.(*ast.ValueSpec).Names {
					if id.IsExported() && strings.HasPrefix(id.Name, "Err") {
						names = append(names, id.Name)
					}
				}
			}
		}
	}
	slices.Sort(names)
	return names
}

// README's error table names exactly the sentinels of package slave: every
// `slave.ErrX` it lists exists, and every exported error variable of the
// package is listed.
func TestReadmeErrorTable(t *testing.T) {
	for name, err := range sentinels {
		require.NotNil(t, err, "slave.%s", name)
	}
	declared := exportedErrVars(t, filepath.Join("..", "..", "slave"))
	require.NotEmpty(t, declared)
	require.Equal(t, declared, slices.Sorted(maps.Keys(sentinels)), "this test's list is package slave's exported Err variables")

	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	table := regexp.MustCompile("(?s)\n### Errors\n.*?\n### ").Find(readme)
	require.NotNil(t, table, "README has no Errors section")
	var listed []string
	for _, n := range regexp.MustCompile("`slave\\.(Err[A-Za-z]+)`").FindAllSubmatch(table, -1) {
		listed = append(listed, string(n[1]))
	}
	require.NotEmpty(t, listed)
	for _, name := range listed {
		assert.Contains(t, declared, name, "README's error table names slave.%s, which package slave does not export", name)
	}
	for _, name := range declared {
		assert.Contains(t, listed, name, "package slave exports %s, which README's error table does not name", name)
	}
}
