package main

import (
	"io"
	"os"

	"golang.org/x/sys/windows"
)

// isTerminal reports whether w is a console that takes the ANSI escape
// sequences watch draws its spinner with: it turns the console's
// virtual-terminal processing on (Windows 10 and later,
// https://learn.microsoft.com/windows/console/console-virtual-terminal-sequences).
// An older console, or one that refuses, counts as no terminal: the
// output is plain.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	h := windows.Handle(f.Fd())
	var mode uint32
	if windows.GetConsoleMode(h, &mode) != nil {
		return false
	}
	if mode&windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING != 0 {
		return true
	}
	return windows.SetConsoleMode(h, mode|windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING) == nil
}
