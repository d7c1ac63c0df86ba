package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/AmanTrance/FastRpc/module"
)

var modulesCommand = &command{
	name:    "modules",
	summary: "list the modules (codecs, dialers, pools, ...) this build knows",
	details: `
Lists every module registered in this build of fastrpc (package module's
registry), grouped by namespace: the codecs "call" can encode with, and the
dialers, pools and middleware a --config may name. A module registered by a
third-party package is known only to programs that import it, so it is not
listed here.

With --json the list is a JSON object mapping each namespace to its
modules' IDs.`,
	setup: func(fs *flag.FlagSet) func(context.Context, *stdio, []string) error {
		asJSON := fs.Bool("json", false, "print a JSON object of namespace to module IDs instead of a list")
		return func(ctx context.Context, std *stdio, args []string) error {
			if len(args) > 0 {
				return usageErrorf("modules: unexpected argument %q; it takes no arguments", args[0])
			}
			return modules(std, *asJSON)
		}
	},
}

func modules(std *stdio, asJSON bool) error {
	var namespaces []string
	byNamespace := map[string][]string{}
	for _, m := range module.All() { // sorted by ID, so namespaces come in order
		ns := m.ID.Namespace()
		if _, ok := byNamespace[ns]; !ok {
			namespaces = append(namespaces, ns)
		}
		byNamespace[ns] = append(byNamespace[ns], string(m.ID))
	}
	if asJSON {
		return printJSON(std.out, byNamespace)
	}
	for _, ns := range namespaces {
		fmt.Fprintf(std.out, "%s\n", ns)
		for _, id := range byNamespace[ns] {
			fmt.Fprintf(std.out, "  %s\n", id)
		}
	}
	return nil
}
