// Command iomux runs the programs of the Python select tutorials (the echo,
// chat, logging and delay servers and their clients) on iomux's event
// loop and Selectors.
//
//	iomux help               list the programs
//	iomux PROGRAM --help     explain one, with an example
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
)

// command is one program of the binary. Each program makes its own, in its
// own file (chatServerProgram in chatserver.go, say), and programs lists
// them all.
type command struct {
	name    string
	summary string                            // one line for "iomux help"
	usage   string                            // the --help text: what it does, its flags, an example
	run     func(e *env, args []string) error // args exclude the program name
}

// env is where a program runs: main gives it the process's standard
// streams, and servers stop on SIGINT or SIGTERM; tests give buffers, a
// context to cancel, and learn a server's address from ready.
type env struct {
	stdin          *os.File
	stdout, stderr io.Writer
	ctx            context.Context // servers: its end stops the server; nil: SIGINT/SIGTERM
	ready          func(net.Addr)  // servers: if set, called once the server listens
}

// programs returns every program, in the order iomux help lists them.
func programs() []*command {
	return []*command{
		backendsProgram(),
		certProgram(),
		chatClientProgram(),
		chatServerProgram(),
		echoClientProgram(),
		echoServerProgram(),
		httpServerProgram(),
		kvServerProgram(),
		logServerProgram(),
		proxyProgram(),
		slowClientProgram(),
		timeServerProgram(),
		versionProgram(),
		watchProgram(),
	}
}

// program returns the program called name, nil if there is none.
func program(name string) *command {
	for _, c := range programs() {
		if c.name == name {
			return c
		}
	}
	return nil
}

// errUsage reports bad command-line input; run prints it briefly, with a
// pointer to --help, and exits 2, as flag does.
var errUsage = errors.New("usage")

// helpRequest is what parseFlags returns for -h, -help or --help: the
// program's help (its usage text, then its flags with their defaults),
// which run prints to stdout. It matches flag.ErrHelp.
type helpRequest struct{ text string }

func (h *helpRequest) Error() string        { return "help requested" }
func (h *helpRequest) Is(target error) bool { return target == flag.ErrHelp }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs "iomux args..." with stdin and the given stdout and stderr, and
// returns the exit status: 0, 1 when the program failed, 2 for a usage
// error. Help goes to stdout, errors to stderr.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		help(stderr)
		return 2
	}
	name, rest := args[0], args[1:]
	if name == "help" || isHelp(name) { // "iomux help [PROGRAM]"
		if len(rest) == 0 {
			help(stdout)
			return 0
		}
		name, rest = rest[0], []string{"--help"}
	}
	c := program(name)
	if c == nil {
		fmt.Fprintf(stderr, "iomux: unknown program %q; run 'iomux help' for the list\n", name)
		return 2
	}
	// Every program parses its flags before it does anything, so --help
	// returns from run at once, with the help text.
	err := c.run(&env{stdin: os.Stdin, stdout: stdout, stderr: stderr}, rest)
	var h *helpRequest
	switch {
	case err == nil:
		return 0
	case errors.As(err, &h):
		fmt.Fprint(stdout, h.text)
		return 0
	case errors.Is(err, errUsage):
		msg := strings.TrimPrefix(err.Error(), errUsage.Error()+": ") // the %w prefix says nothing here
		fmt.Fprintf(stderr, "iomux %s: %s\nRun 'iomux %s --help' for usage.\n", c.name, msg, c.name)
		return 2
	}
	fmt.Fprintf(stderr, "iomux %s: %v\n", c.name, err)
	return 1
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

func help(w io.Writer) {
	fmt.Fprint(w, "iomux: wait on many file descriptors at once; the Python select tutorials'\nprograms on an event loop.\n\n")
	fmt.Fprint(w, "Usage: iomux PROGRAM [flags] [args]\n\nPrograms:\n")
	for _, c := range programs() {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'iomux help PROGRAM' or 'iomux PROGRAM --help' for a program's flags and an example.\n")
}

// newFlags makes the FlagSet of program c. It prints nothing itself: a
// parse error comes back from parseFlags for run to print in one line, and
// -h/--help as a helpRequest.
func newFlags(c *command) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args; a parse error becomes errUsage, and -h/--help a
// helpRequest with the program's usage text and fs's flags and defaults.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		return &helpRequest{text: helpText(fs)}
	}
	return fmt.Errorf("%w: %v", errUsage, err)
}

// parseInterleaved parses flags wherever they stand among the arguments
// (`iomux echo-client hello --conns 3`, as in most command-line tools, not
// only before the first argument as flag does) and returns the other
// arguments in order. After "--" everything is an argument, so one may
// start with '-'.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if used := len(args) - fs.NArg(); used > 0 && args[used-1] == "--" {
			return append(rest, fs.Args()...), nil
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// helpText is the --help of the program that fs belongs to.
func helpText(fs *flag.FlagSet) string {
	var b strings.Builder
	if c := program(fs.Name()); c != nil {
		b.WriteString(strings.TrimRight(c.usage, "\n") + "\n")
	}
	flags := 0
	fs.VisitAll(func(*flag.Flag) { flags++ })
	if flags > 0 {
		b.WriteString("\nFlags:\n")
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return b.String()
}
