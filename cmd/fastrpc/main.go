package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"unicode"

	"github.com/AmanTrance/FastRpc/internal/errtext"
)

// Exit codes, the contract with scripts (see doc.go and usage).
const (
	exitOK     = 0
	exitRemote = 1 // the master answered with an error
	exitUsage  = 2 // bad flags or arguments; nothing was sent
	exitCall   = 3 // the call could not be made
)

// command is one subcommand. A new one (bench, say) is a value of this type
// in a file of its own, added to commands.
type command struct {
	name    string
	args    string // positional arguments, for the synopsis: "ADDR METHOD"
	summary string // one line, for the command list
	details string // what --help prints between the synopsis and the flags
	// setup registers the command's flags on fs and returns the function
	// that runs it with the positional arguments left after the flags.
	setup func(fs *flag.FlagSet) func(ctx context.Context, std *stdio, args []string) error
}

// commands is every subcommand, in the order the help lists them.
var commands = []*command{serveCommand, capsCommand, callCommand, benchCommand, modulesCommand}

// stdio is a command's standard streams.
type stdio struct {
	in          io.Reader
	out, errOut io.Writer
}

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first signal cancels the command (serve shuts down
		// gracefully); a second one stops at once. Listening on, rather
		// than restoring the default action, also works when the tool was
		// started with SIGINT ignored (a background job of a script).
		<-signals
		cancel()
		<-signals
		os.Exit(exitInterrupted)
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	signal.Stop(signals)
	cancel()
	os.Exit(code)
}

// run runs the command line args (without the program's name) and returns
// the exit code. Cancelling ctx interrupts the command: serve shuts down
// gracefully, a call in flight is abandoned.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	std := &stdio{in: stdin, out: stdout, errOut: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, usage())
		return exitOK
	case "help":
		if len(rest) == 0 {
			fmt.Fprint(stdout, usage())
			return exitOK
		}
		if c := lookup(rest[0]); c != nil {
			fmt.Fprint(stdout, c.help())
			return exitOK
		}
		name = rest[0]
	}
	c := lookup(name)
	if c == nil {
		return fail(stderr, usageErrorf("unknown command %q; run \"fastrpc --help\" for the list", name))
	}
	fs := flag.NewFlagSet("fastrpc "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported below, in one line
	exec := c.setup(fs)
	positional, err := parseInterleaved(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, c.help())
		return exitOK
	}
	if err != nil {
		return fail(stderr, usageErrorf("%s: %v; run \"fastrpc %s --help\" for its flags", c.name, err, c.name))
	}
	return fail(stderr, exec(ctx, std, positional))
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// parseInterleaved parses args with fs, allowing flags after positional
// arguments ("call ADDR METHOD -d x"), which flag.Parse alone stops at.
// Everything after "--" is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if i := len(args) - len(rest); i > 0 && args[i-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// exitError is an error that ends the command with code.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, msg: fmt.Sprintf(format, args...)}
}

func remoteErrorf(format string, args ...any) error {
	return &exitError{code: exitRemote, msg: fmt.Sprintf(format, args...)}
}

func callErrorf(format string, args ...any) error {
	return &exitError{code: exitCall, msg: fmt.Sprintf(format, args...)}
}

// fail reports err, if any, as one line on stderr and returns its exit
// code. Errors that are not exitErrors count as calls that could not be
// made.
func fail(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	code := exitCall
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	fmt.Fprintln(stderr, errtext.Prefix+oneLine(strings.TrimPrefix(err.Error(), errtext.Prefix)))
	return code
}

// oneLine makes s printable on one line: control characters (a remote
// message's newlines, say) are shown escaped.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := fmt.Sprintf("%q", string(r))
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Exit status and error conventions, shared by the help texts.
const exitStatusText = `Exit status:
  0    success
  1    the master answered with an error: its message and code are on
       stderr (a request that does not fit the method's Go type is such an
       answer)
  2    usage: bad flags or arguments, a --config or TLS file that does not
       load, -d data that is not JSON for a method taking a codec, or a
       request larger than the slave sends; nothing was sent
  3    the call could not be made: the master is unreachable or not a
       FastRpc master, --timeout passed, the connection failed, or the tool
       cannot show the response
  130  interrupted by SIGINT (Ctrl-C) or SIGTERM
Errors are one line on stderr, starting "fastrpc: ".
`

// usage is the text of fastrpc --help: the commands, then every flag of
// each.
func usage() string {
	var b strings.Builder
	b.WriteString(`fastrpc talks to FastRpc masters from the shell: it lists what a master
serves, calls its methods with raw bytes or JSON, and runs a demo master to
try both on.

Usage:
  fastrpc COMMAND [flags] [arguments]
  fastrpc COMMAND --help    the command's details

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-9s %s\n", c.name, c.summary)
	}
	b.WriteString("\n" + exitStatusText + "\nFlags, by command:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "\n  %s\n%s", c.synopsis(), c.flagList("    "))
	}
	return b.String()
}

func (c *command) synopsis() string {
	s := "fastrpc " + c.name + " [flags]"
	if c.args != "" {
		s += " " + c.args
	}
	return s
}

// help is the text of fastrpc COMMAND --help.
func (c *command) help() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: %s\n\n%s\n", c.synopsis(), strings.TrimSpace(c.details))
	if flags := c.flagList("  "); flags != "" {
		b.WriteString("\nFlags:\n" + flags)
	}
	return b.String()
}

// flagList lists c's flags, one a line after indent, in the order of
// flag.VisitAll: "--name VALUE  usage (default x)"; one-letter flags take
// one dash.
func (c *command) flagList(indent string) string {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.setup(fs)
	type row struct{ left, right string }
	var rows []row
	width := 0
	fs.VisitAll(func(f *flag.Flag) {
		name, text := flag.UnquoteUsage(f)
		left := "--" + f.Name
		if len(f.Name) == 1 {
			left = "-" + f.Name
		}
		if name != "" {
			left += " " + name
		}
		if f.DefValue != "" && f.DefValue != "false" {
			text += " (default " + f.DefValue + ")"
		}
		rows = append(rows, row{left, text})
		width = max(width, len(left))
	})
	var b strings.Builder
	for _, r := range rows {
		lines := wrap(r.right, max(30, 78-len(indent)-width-2))
		for i, l := range lines {
			left := ""
			if i == 0 {
				left = r.left
			}
			fmt.Fprintf(&b, "%s%-*s  %s\n", indent, width, left, l)
		}
	}
	return b.String()
}

// wrap splits s into lines of at most width characters, at spaces.
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}
