//go:build unix && !linux

package main

// shrinkPipe does nothing: only Linux sets a pipe's size.
func shrinkPipe(int) {}
