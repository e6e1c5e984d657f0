package main

import "testing"

func TestCRLFToLF(t *testing.T) {
	for _, c := range []struct {
		in   string
		more bool
		want string
		held bool
	}{
		{"hello\r\n", true, "hello\n", false},
		{"a\r\nb\r\n", false, "a\nb\n", false},
		{"cut at\r", true, "cut at", true}, // the LF may come in the next read
		{"last\r", false, "last\r", false},
		{"lone\rcr\n", true, "lone\rcr\n", false},
		{"", true, "", false},
	} {
		out, held := crlfToLF([]byte(c.in), c.more)
		if string(out) != c.want || held != c.held {
			t.Errorf("crlfToLF(%q, %v) = %q, %v; want %q, %v", c.in, c.more, out, held, c.want, c.held)
		}
	}
}
