//go:build unix

package main

import (
	"fmt"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// The terminal settings chat-client's line editor needs, on Unix.

// wakeOnSignal turns SIGINT, SIGTERM, SIGHUP and SIGQUIT into a return from
// Wait, so that the terminal is restored before the program ends.
func (c *chatClient) wakeOnSignal() (stop func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case <-sigs:
			c.signalled.Store(true)
			c.sel.Wake()
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
		<-exited
	}
}

// enterChatMode turns off the terminal's line editing, echo and signal keys
// (ICANON, ECHO, ISIG, IEXTEN) so that chat-client sees every key; output
// processing stays on. restore puts the saved settings back.
func enterChatMode(fd int) (restore func(), err error) {
	saved, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return nil, fmt.Errorf("terminal settings: %w", err)
	}
	raw := *saved
	raw.Lflag &^= unix.ICANON | unix.ECHO | unix.ISIG | unix.IEXTEN
	raw.Iflag &^= unix.IXON
	raw.Iflag |= unix.ICRNL
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, ioctlSetTermios, &raw); err != nil {
		return nil, fmt.Errorf("terminal settings: %w", err)
	}
	return func() { unix.IoctlSetTermios(fd, ioctlSetTermios, saved) }, nil
}

// termWidth asks the terminal for its width each time (0 if it cannot
// say), so a resized window is drawn right; it costs one ioctl per redraw,
// and redraws come at typing speed.
func (c *chatClient) termWidth() int {
	ws, err := unix.IoctlGetWinsize(c.tty.fd, ioctlGetWinsize)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}
