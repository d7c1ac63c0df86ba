package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/AmanTrance/FastRpc/frame"
)

var capsCommand = &command{
	name:    "caps",
	args:    "ADDR",
	summary: "list a master's methods, descriptions and encodings",
	details: `
Asks the master at ADDR (HOST:PORT) for its capabilities: every method it
serves, with its description and the encodings of its request (IN) and
response (OUT), in the order the master lists them. An encoding that names
a codec (msgpack, cbor, json) means "fastrpc call" speaks JSON to the
method; "-" is an unspecified encoding: raw bytes.

With --json the list is a JSON array of objects with the fields name,
description, incoming_encoding and returning_encoding (empty when
unspecified).

ADDR may be left out when --config holds an "address".

` + exitStatusText,
	setup: func(fs *flag.FlagSet) func(context.Context, *stdio, []string) error {
		var o dialOptions
		asJSON := fs.Bool("json", false, "print a JSON array instead of a table")
		o.register(fs)
		return func(ctx context.Context, std *stdio, args []string) error {
			if len(args) > 1 {
				return usageErrorf("caps: unexpected argument %q; usage: fastrpc caps [flags] ADDR", args[1])
			}
			addr := ""
			if len(args) == 1 {
				addr = args[0]
			}
			return caps(ctx, std, &o, addr, *asJSON)
		}
	},
}

// capability is a frame.Capability as caps --json prints it.
type capability struct {
	Name              string `json:"name"`
	Description       string `json:"description"`
	IncomingEncoding  string `json:"incoming_encoding"`
	ReturningEncoding string `json:"returning_encoding"`
}

func caps(ctx context.Context, std *stdio, o *dialOptions, addr string, asJSON bool) error {
	list, err := capabilities(ctx, o, addr, std.errOut)
	if err != nil {
		return err
	}
	if asJSON {
		out := make([]capability, 0, len(list))
		for _, c := range list {
			out = append(out, capability(c))
		}
		return printJSON(std.out, out)
	}
	tw := tabwriter.NewWriter(std.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "METHOD\tIN\tOUT\tDESCRIPTION")
	for _, c := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", cell(c.Name), cell(c.IncomingEncoding), cell(c.ReturningEncoding), oneLine(c.Description))
	}
	return tw.Flush()
}

// capabilities dials and asks for the master's capabilities.
func capabilities(ctx context.Context, o *dialOptions, addr string, errOut io.Writer) ([]frame.Capability, error) {
	s, addr, err := o.dial(ctx, addr, errOut)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(o.outgoing(ctx), o.timeout)
	defer cancel()
	list, err := s.Capabilities(ctx)
	if err != nil {
		return nil, explain(err, addr, "capabilities", o.timeout)
	}
	return list.Methods, nil
}

// cell is a table cell: "-" when empty, never a tab or a newline.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return oneLine(s)
}
