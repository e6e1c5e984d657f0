package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/iomux/iomux"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "devel"

// versionProgram is iomux version.
func versionProgram() *command {
	return &command{
		name:    "version",
		summary: "print the iomux version and the Go toolchain",
		usage:   "Usage: iomux version\n\nPrints the iomux version, the Go version and the OS/architecture.\n",
		run:     runVersion,
	}
}

func runVersion(e *env, args []string) error {
	if err := parseNoArgs(versionProgram(), args); err != nil {
		return err
	}
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "devel" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	fmt.Fprintf(e.stdout, "iomux %s %s %s/%s\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// backendsProgram is iomux backends.
func backendsProgram() *command {
	return &command{
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
		run: runBackends,
	}
}

func runBackends(e *env, args []string) error {
	if err := parseNoArgs(backendsProgram(), args); err != nil {
		return err
	}
	for i, b := range iomux.Backends() {
		if i == 0 {
			b += " (default)"
		}
		fmt.Fprintln(e.stdout, b)
	}
	return nil
}

// parseNoArgs parses the arguments of a program that takes none, so that
// --help works and anything else is a usage error.
func parseNoArgs(c *command, args []string) error {
	fs := newFlags(c)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	return nil
}
