package main

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/iomux/iomux/internal/safetext"
)

// chat-client on a terminal: the terminal's own line editing and echo are
// off, and chat-client edits the typed line itself, so that it can take
// the line off the screen to print a message, and put it back.

// chatLine is the line being typed on a terminal.
type chatLine struct {
	text   []byte
	escape int  // 1 after ESC, 2 inside an escape sequence (arrow keys...), which is ignored
	fd     int  // the terminal (stdout), asked for its width
	stderr bool // stderr is a terminal too: -v lines go above the typed line
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
			c.outgoing(append(l.text, '\n'))
			l.text = l.text[:0]
			c.print("\n")
			c.prompt()
		}
	case 0x7f, 0x08: // Backspace: one character, not one byte
		if len(l.text) > 0 {
			wipe := c.erase()
			_, size := utf8.DecodeLastRune(l.text)
			l.text = l.text[:len(l.text)-size]
			c.redraw(wipe)
		}
	case 0x15: // Ctrl-U: the whole line
		wipe := c.erase()
		l.text = l.text[:0]
		c.redraw(wipe)
	case 0x17: // Ctrl-W: the last word
		wipe := c.erase()
		l.text = bytes.TrimRight(l.text, " ")
		l.text = l.text[:bytes.LastIndexByte(l.text, ' ')+1]
		c.redraw(wipe)
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

// redraw prints the prompt line again after an edit; wipe is the erase
// of the line as it was on the screen, taken before the edit.
func (c *chatClient) redraw(wipe string) {
	c.print(wipe)
	c.prompt()
}

// show prints lines from the server where the typed line was, escaped,
// and puts the prompt and the typed text back below them. A text that
// does not end its line (cut at chatClientHoldMax, or the server's last
// words) is ended, so the prompt never sits after it.
func (c *chatClient) show(text []byte) {
	out := safetext.ForTerminal(text)
	if !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	c.print(c.erase() + string(out))
	c.prompt()
}

// trace prints one -v line on stderr. When stderr is the terminal too, the
// line goes where the typed line was, like a message, and the typed line
// is put back below it.
func (c *chatClient) trace(format string, args ...any) {
	if !c.opt.verbose {
		return
	}
	if c.tty == nil || !c.tty.stderr {
		c.opt.tracef(c.stderr, format, args...)
		return
	}
	c.print(c.erase())
	c.opt.tracef(c.stderr, format, args...)
	c.prompt()
}

// erase takes the prompt and the typed text off the screen: back to the
// start of the first row they take ("\x1b[nA" when they wrap over n+1
// rows of a terminal this wide) and clear from there down ("\x1b[J").
func (c *chatClient) erase() string {
	up := 0
	if c.tty != nil && c.in >= 0 {
		cols := utf8.RuneCountInString(chatClientPrompt) + utf8.RuneCount(c.tty.text)
		up = rowsAbove(cols, c.termWidth())
	}
	if up == 0 {
		return "\r\x1b[J"
	}
	return fmt.Sprintf("\r\x1b[%dA\x1b[J", up)
}

// rowsAbove is how many rows above the cursor a text of cols columns
// starts on a terminal width columns wide (0: unknown, taken as one row).
// A terminal keeps the cursor on the row it just filled until the next
// character comes, hence cols-1. Every character is taken as one column:
// East Asian wide characters, which take two, are not measured.
func rowsAbove(cols, width int) int {
	if cols <= 0 || width <= 0 {
		return 0
	}
	return (cols - 1) / width
}

// runeCut is where p may be cut without splitting a UTF-8 sequence: before
// an unfinished one at its end, if any.
func runeCut(p []byte) int {
	for k := 1; k < utf8.UTFMax && k <= len(p); k++ {
		if utf8.RuneStart(p[len(p)-k]) {
			if !utf8.FullRune(p[len(p)-k:]) {
				return len(p) - k
			}
			break
		}
	}
	return len(p)
}

// prompt shows "<You> " and the line typed so far, on a terminal with
// stdin still open.
func (c *chatClient) prompt() {
	if c.tty != nil && c.in >= 0 {
		c.print(chatClientPrompt + string(c.tty.text))
	}
}
