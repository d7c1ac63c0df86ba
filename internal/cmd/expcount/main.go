// Command expcount counts the exported identifiers of FastRpc's library
// packages, per package directory
// (top-level funcs, types, vars and consts; exported methods of exported
// types; exported struct fields and interface methods), leaving out
// _test.go files and the bench, examples, internal and cmd trees. The
// "top+meth" column is the API-size figure quoted in issue 14's note.
//
//	go run ./internal/cmd/expcount .
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: expcount DIR")
		os.Exit(2)
	}
	root := os.Args[1]
	counts := map[string][3]int{}
	err := filepath.Walk(root, func(p string, info os.FileInfo, walkErr error) error {
		if walkErr != nil {
			return walkErr
		}
		if info.IsDir() {
			b := info.Name()
			if p != root && (b == "bench" || b == "examples" || strings.HasPrefix(b, ".") || b == "testdata" || b == "internal" || b == "cmd") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, 0)
		if err != nil {
			return err
		}
		dir, _ := filepath.Rel(root, filepath.Dir(p))
		c := counts[dir]
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv == nil {
					c[0]++
				} else {
					// method on exported type
					t := d.Recv.List[0].Type
					if s, ok := t.(*ast.StarExpr); ok {
						t = s.X
					}
					if ix, ok := t.(*ast.IndexExpr); ok {
						t = ix.X
					}
					if ix, ok := t.(*ast.IndexListExpr); ok {
						t = ix.X
					}
					if id, ok := t.(*ast.Ident); ok && id.IsExported() {
						c[1]++
					}
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if !s.Name.IsExported() {
							continue
						}
						c[0]++
						switch t := s.Type.(type) {
						case *ast.StructType:
							for _, fl := range t.Fields.List {
								for _, n := range fl.Names {
									if n.IsExported() {
										c[2]++
									}
								}
							}
						case *ast.InterfaceType:
							for _, fl := range t.Methods.List {
								for _, n := range fl.Names {
									if n.IsExported() {
										c[2]++
									}
								}
							}
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								c[0]++
							}
						}
					}
				}
			}
		}
		counts[dir] = c
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "expcount:", err)
		os.Exit(1)
	}
	var dirs []string
	for d := range counts {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	var tot, totf [3]int
	fmt.Printf("%-22s %6s %8s %7s %10s %6s\n", "package", "top", "methods", "fields", "top+meth", "all")
	for _, d := range dirs {
		c := counts[d]
		fmt.Printf("%-22s %6d %8d %7d %10d %6d\n", d, c[0], c[1], c[2], c[0]+c[1], c[0]+c[1]+c[2])
		for i := range c {
			tot[i] += c[i]
			if d != "." {
				totf[i] += c[i]
			}
		}
	}
	for _, r := range []struct {
		n string
		c [3]int
	}{{"total", tot}, {"outside facade", totf}} {
		c := r.c
		fmt.Printf("%-22s %6d %8d %7d %10d %6d\n", r.n, c[0], c[1], c[2], c[0]+c[1], c[0]+c[1]+c[2])
	}
}
