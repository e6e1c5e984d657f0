package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/iomux/iomux"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "devel"

func init() {
	register(&command{
		name:    "version",
		summary: "print the iomux version and the Go toolchain",
		usage:   "Usage: iomux version\n\nPrints the iomux version, the Go version and the OS/architecture.\n",
		run: func(e *env, args []string) error {
			if err := parseNoArgs("version", args); err != nil {
				return err
			}
			v := version
			if bi, ok := debug.ReadBuildInfo(); ok && v == "devel" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
				v = bi.Main.Version
			}
			fmt.Fprintf(e.stdout, "iomux %s %s %s/%s\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	})
	register(&command{
		name:    "backends",
		summary: "list the readiness backends this OS offers, best first",
		usage: `Usage: iomux backends

Lists the Selector backends this OS offers, best first. The first one is what
--backend auto picks.

Example:
  $ iomux backends
  epoll (default)
  poll
  select
`,
		run: func(e *env, args []string) error {
			if err := parseNoArgs("backends", args); err != nil {
				return err
			}
			for i, b := range iomux.Backends() {
				if i == 0 {
					b += " (default)"
				}
				fmt.Fprintln(e.stdout, b)
			}
			return nil
		},
	})
}

// parseNoArgs parses the arguments of a program that takes none, so that
// --help works and anything else is a usage error.
func parseNoArgs(name string, args []string) error {
	fs := newFlags(commands[name])
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	return nil
}
