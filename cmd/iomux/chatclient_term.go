package main

import (
	"bytes"
	"fmt"
	"os"
	"os/signal"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// chat-client on a terminal: the terminal's own line editing and echo are
// off, and chat-client edits the typed line itself, so that it can take
// the line off the screen to print a message, and put it back.

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

// chatLine is the line being typed on a terminal.
type chatLine struct {
	text   []byte
	escape int // 1 after ESC, 2 inside an escape sequence (arrow keys...), which is ignored
}

// key handles one byte typed on the terminal; quit reports Ctrl-C.
func (c *chatClient) key(b byte) (quit bool) {
	l := c.tty
	switch l.escape {
	case 1:
		l.escape = 0
		if b == '[' || b == 'O' {
			l.escape = 2
		}
		return false
	case 2:
		if b >= 0x40 && b <= 0x7e {
			l.escape = 0
		}
		return false
	}
	switch b {
	case 0x1b:
		l.escape = 1
	case '\n', '\r':
		if len(l.text) > 0 {
			c.outbox = append(append(c.outbox, l.text...), '\n')
			l.text = l.text[:0]
			c.print("\n")
			c.prompt()
		}
	case 0x7f, 0x08: // Backspace: one character, not one byte
		if len(l.text) > 0 {
			_, size := utf8.DecodeLastRune(l.text)
			l.text = l.text[:len(l.text)-size]
			c.redraw()
		}
	case 0x15: // Ctrl-U: the whole line
		l.text = l.text[:0]
		c.redraw()
	case 0x17: // Ctrl-W: the last word
		l.text = bytes.TrimRight(l.text, " ")
		l.text = l.text[:bytes.LastIndexByte(l.text, ' ')+1]
		c.redraw()
	case 0x03: // Ctrl-C
		c.print("^C\n")
		return true
	case 0x04: // Ctrl-D: leave, on an empty line
		if len(l.text) == 0 {
			c.endInput()
		}
	default:
		switch {
		case b < 0x20: // other control keys
		case len(l.text) >= chatClientMaxLine:
			c.print("\a")
		default:
			l.text = append(l.text, b)
			c.print(string([]byte{b}))
		}
	}
	return false
}

// redraw prints the prompt line again after an edit.
func (c *chatClient) redraw() {
	c.print("\r\x1b[K")
	c.prompt()
}

// prompt shows "<You> " and the line typed so far, on a terminal with
// stdin still open.
func (c *chatClient) prompt() {
	if c.tty != nil && c.in >= 0 {
		c.print(chatClientPrompt + string(c.tty.text))
	}
}
