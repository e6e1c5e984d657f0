// Command iomux runs the programs of the iomux toolkit: the seeds' servers
// and clients on the event loop, and the benchmarks that measure it.
//
//	iomux help               list the programs
//	iomux PROGRAM --help     explain one, with an example
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one subcommand. Each program registers itself from its own
// file with register, so adding a program touches no other file.
type command struct {
	name    string
	summary string                    // one line for "iomux help"
	usage   string                    // the --help text: what it does, its flags, an example
	run     func(args []string) error // args exclude the program name
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("iomux: program registered twice: " + c.name)
	}
	commands[c.name] = c
}

// errUsage reports bad command-line input; main prints it with a hint and
// exits 2, as flag does.
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || isHelp(args[0]) {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				fmt.Fprint(stdout, c.usage)
				return 0
			}
		}
		help(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "iomux: unknown program %q\n\n", args[0])
		help(stderr)
		return 2
	}
	if len(args) > 1 && isHelp(args[1]) {
		fmt.Fprint(stdout, c.usage)
		return 0
	}
	err := c.run(args[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "iomux %s: %v\nRun 'iomux %s --help' for usage.\n", c.name, err, c.name)
		return 2
	}
	fmt.Fprintf(stderr, "iomux %s: %v\n", c.name, err)
	return 1
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

func help(w io.Writer) {
	fmt.Fprint(w, "iomux: wait on many file descriptors at once; the seeds' programs on an event loop.\n\n")
	fmt.Fprint(w, "Usage: iomux PROGRAM [flags] [args]\n\nPrograms:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, "\nRun 'iomux PROGRAM --help' for a program's flags and an example.\n")
}

// newFlags makes a FlagSet whose -h/--help prints the program's usage text.
func newFlags(c *command, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, strings.TrimRight(c.usage, "\n")+"\n\nFlags:\n")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; a parse error becomes errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}
