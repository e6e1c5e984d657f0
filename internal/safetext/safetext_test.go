package safetext

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text, tab\tand newline\n", "plain text, tab\tand newline\n"},
		{"héllo wörld ✓ 日本語 \U0001F600", "héllo wörld ✓ 日本語 \U0001F600"},
		{"a\x1b[2Jb", `a\x1b[2Jb`},
		{"\r[127.0.0.1:1] fake", `\r[127.0.0.1:1] fake`},
		{"nul\x00 bel\a del\x7f", `nul\x00 bel\x07 del\x7f`},
		{"c1 \u009b31m nel\u0085", `c1 \u009b31m nel\u0085`},
		{"raw \x9b and \xff", `raw \x9b and \xff`},
		{"cut \xe6\x97", `cut \xe6\x97`},
		{"replacement \uFFFD stays", "replacement \uFFFD stays"},
		{"bidi \u202a\u202b\u202c\u202d\u202e and isolates \u2066\u2067\u2068\u2069", `bidi \u202a\u202b\u202c\u202d\u202e and isolates \u2066\u2067\u2068\u2069`},
		{"marks \u200e\u200f\u061c", `marks \u200e\u200f\u061c`},
		{"line\u2028separator\u2029paragraph", `line\u2028separator\u2029paragraph`},
		{"near them \u2027\u202f\u2065\u206a\u200d", "near them \u2027\u202f\u2065\u206a\u200d"},
	} {
		if got := string(Escape([]byte(tc.in))); got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, plain := range [][]byte{[]byte("nothing to escape"), []byte("ünïcödé ✓ too")} {
		if got := Escape(plain); &got[0] != &plain[0] {
			t.Errorf("Escape copied %q, which needed no escape", plain)
		}
	}
	if got := string(ForTerminal([]byte("\r<bob> hi \x1b[2Jthere\n"))); got != `<bob> hi \x1b[2Jthere`+"\n" {
		t.Errorf("ForTerminal = %q", got)
	}
}

// Whatever comes in, what goes out is UTF-8 without a control byte a
// terminal would act on, and text that had none is unchanged.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"hello", "a\x1b[2J\rb", "\u009b\xff\xe6\x97", "日本\t\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := Escape(in)
		if !utf8.Valid(out) {
			t.Fatalf("Escape(%q) = %q, not UTF-8", in, out)
		}
		clean := utf8.Valid(in)
		escaped := func(r rune) bool {
			return r < 0x20 && r != '\t' && r != '\n' || r >= 0x7f && r <= 0x9f ||
				r >= 0x2028 && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f || r == 0x061c
		}
		for _, r := range string(out) {
			if escaped(r) {
				t.Fatalf("Escape(%q) = %q holds %U", in, out, r)
			}
		}
		for _, r := range string(in) {
			if escaped(r) {
				clean = false
			}
		}
		if clean && !bytes.Equal(out, in) {
			t.Fatalf("Escape(%q) = %q, want it unchanged", in, out)
		}
	})
}
