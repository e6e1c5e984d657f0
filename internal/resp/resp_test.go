package resp

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// encode is a command as a client sends it: a multibulk array.
func encode(args ...string) []byte {
	var b []byte
	b = AppendArray(b, len(args))
	for _, a := range args {
		b = AppendBulk(b, a)
	}
	return b
}

func strs(args [][]byte) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = string(a)
	}
	return out
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		args []string // nil: incomplete, unless err
		n    int
		err  string
	}{
		{in: "*1\r\n$4\r\nPING\r\n", args: []string{"PING"}, n: 14},
		{in: "*2\r\n$3\r\nGET\r\n$0\r\n\r\n", args: []string{"GET", ""}, n: 19},
		{in: "*2\r\n$3\r\nGET\r\n$3\r\na\x00b\r\n*1", args: []string{"GET", "a\x00b"}, n: 22},
		{in: "*2\r\n$3\r\nGET\r\n$3\r\nab"},
		{in: "*2\r\n$3\r\nGET\r\n$3"},
		{in: "*2\r"},
		{in: "*0\r\n", args: []string{}, n: 4},
		{in: "*-1\r\n", args: []string{}, n: 5},
		{in: "PING\r\n", args: []string{"PING"}, n: 6},
		{in: "PING\n", args: []string{"PING"}, n: 5},
		{in: "  set  k \t v \r\n", args: []string{"set", "k", "v"}, n: 15},
		{in: "\r\n", args: []string{}, n: 2},
		{in: "PIN"},
		{in: `set k "a b\x41\n\"" 'it\'s'` + "\n", args: []string{"set", "k", "a bA\n\"", "it's"}, n: 28},
		{in: "set k \"ab\n", err: "unbalanced quotes"},
		{in: "set k \"ab\"c\n", err: "unbalanced quotes"},
		{in: "*x\r\n", err: "invalid multibulk length"},
		{in: "*2000000\r\n", err: "invalid multibulk length"},
		{in: "*1\r\n+PING\r\n", err: "expected '$', got '+'"},
		{in: "*1\r\n$-1\r\n", err: "invalid bulk length"},
		{in: "*1\r\n$99999999999\r\n", err: "invalid bulk length"},
		{in: "*1\r\n$4\r\nPINGxx", err: "expected CRLF"},
		{in: "*1\r\n$01\r\nP\r\n", err: "invalid bulk length"},
		{in: "*1\n"}, // a header ends at CR LF, as in Redis: wait for it
		{in: "*1\rx\n", err: "invalid multibulk length"},
		{in: "*" + strings.Repeat("1", 70000), err: "too big mbulk count string"},
		{in: "*1\r\n$" + strings.Repeat("1", 70000), err: "too big bulk count string"},
		{in: strings.Repeat("a", 70000), err: "too big inline request"},
	} {
		var p Parser
		args, n, err := p.Parse([]byte(tc.in))
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) || !IsProtocolError(err) {
				t.Errorf("%.40q: err %v, want %q", tc.in, err, tc.err)
			}
		case err != nil:
			t.Errorf("%.40q: %v", tc.in, err)
		case tc.args == nil && n != 0:
			t.Errorf("%.40q: took %d bytes of an incomplete command", tc.in, n)
		case tc.args != nil && (n != tc.n || fmt.Sprint(strs(args)) != fmt.Sprint(tc.args) || len(args) != len(tc.args)):
			t.Errorf("%.40q: %q, %d; want %q, %d", tc.in, strs(args), n, tc.args, tc.n)
		}
	}
}

// A command split anywhere is incomplete until its last byte.
func TestParseEveryPrefixIsIncomplete(t *testing.T) {
	for _, cmd := range [][]byte{encode("SET", "key", "va\r\nlue"), encode("MSET", "a", "", "b", strings.Repeat("x", 300)), []byte("SET k \"v w\"\r\n")} {
		var p Parser
		for i := range cmd {
			if args, n, err := p.Parse(cmd[:i]); n != 0 || err != nil || args != nil {
				t.Fatalf("%q[:%d]: %q, %d, %v; want incomplete", cmd, i, strs(args), n, err)
			}
		}
		if _, n, err := p.Parse(cmd); n != len(cmd) || err != nil {
			t.Fatalf("%q: %d, %v", cmd, n, err)
		}
	}
}

func TestLimits(t *testing.T) {
	p := Parser{Limits: Limits{MaxBulk: 3, MaxArgs: 2, MaxInline: 8}}
	for in, want := range map[string]string{
		string(encode("GET", "abcd")): "invalid bulk length",
		string(encode("a", "b", "c")): "invalid multibulk length",
		"a b c\r\n":                   "invalid multibulk length",
		"GET abcdefgh\r\n":            "too big inline request",
	} {
		if _, _, err := p.Parse([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
	if args, _, err := p.Parse(encode("GET", "abc")); err != nil || len(args) != 2 {
		t.Errorf("at the limits: %q, %v", strs(args), err)
	}
}

func TestParseInt(t *testing.T) {
	for in, want := range map[string]any{"0": int64(0), "-1": int64(-1), "9223372036854775807": int64(9223372036854775807),
		"-9223372036854775808": int64(-9223372036854775808), "9223372036854775808": false, "01": false, "+1": false,
		" 1": false, "1 ": false, "": false, "-": false, "-0": int64(0), "1.5": false} {
		n, ok := ParseInt([]byte(in))
		if w, isInt := want.(int64); isInt != ok || isInt && n != w {
			t.Errorf("ParseInt(%q) = %d, %v; want %v", in, n, ok, want)
		}
	}
}

func TestAppend(t *testing.T) {
	var b []byte
	b = AppendOK(b)
	b = AppendSimple(b, "PONG")
	b = AppendError(b, "ERR bad\r\nline")
	b = AppendInt(b, -42)
	b = AppendBulk(b, []byte("a\r\nb"))
	b = AppendBulk(b, []byte(nil))
	b = AppendNull(b)
	b = AppendNullArray(b)
	b = AppendArray(b, 2)
	b = AppendBulkInt(b, 7)
	want := "+OK\r\n+PONG\r\n-ERR bad  line\r\n:-42\r\n$4\r\na\r\nb\r\n$0\r\n\r\n$-1\r\n*-1\r\n*2\r\n$1\r\n7\r\n"
	if string(b) != want {
		t.Errorf("got %q\nwant %q", b, want)
	}
}

// FuzzParse: no input panics, a command never takes more bytes than
// there are, and what parses re-encodes to a multibulk that parses to the
// same arguments, with every prefix of it incomplete.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"*1\r\n$4\r\nPING\r\n", "PING\r\n", `set "a\x00" 'b'` + "\n", "*2\r\n$1\r\na\r\n$0\r\n\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*1\r\n$4\r\nPING\r\n", "*-1\r\n", "$5\r\n", "\"\n", "*1\r\n$2\r\nabc\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := Parser{Limits: Limits{MaxBulk: 1 << 10, MaxArgs: 64, MaxInline: 1 << 10}}
		for len(data) > 0 {
			args, n, err := p.Parse(data)
			if err != nil {
				if !IsProtocolError(err) {
					t.Fatalf("error %v is not a ProtocolError", err)
				}
				return
			}
			if n == 0 {
				return
			}
			if n > len(data) {
				t.Fatalf("took %d of %d bytes", n, len(data))
			}
			got := strs(args)
			enc := encode(got...)
			var q Parser
			back, m, err := q.Parse(enc)
			if err != nil || m != len(enc) || fmt.Sprintf("%q", strs(back)) != fmt.Sprintf("%q", got) {
				t.Fatalf("%q re-encoded as %q parses to %q, %d, %v", got, enc, strs(back), m, err)
			}
			for i := 1; i < len(enc) && i < 64; i++ {
				if _, m, err := q.Parse(enc[:i]); m != 0 || err != nil {
					t.Fatalf("prefix %q of %q: %d, %v", enc[:i], enc, m, err)
				}
			}
			data = data[n:]
		}
	})
}

func BenchmarkParsePipeline(b *testing.B) {
	var batch []byte
	for range 16 {
		batch = append(batch, encode("SET", "key:000000000042", "xxx")...)
		batch = append(batch, encode("GET", "key:000000000042")...)
	}
	var p Parser
	b.ReportAllocs()
	b.SetBytes(int64(len(batch)))
	for b.Loop() {
		for rest := batch; len(rest) > 0; {
			_, n, err := p.Parse(rest)
			if err != nil || n == 0 {
				b.Fatal(n, err)
			}
			rest = rest[n:]
		}
	}
}

func ExampleParser() {
	in := []byte("*3\r\n$3\r\nSET\r\n$5\r\nhello\r\n$5\r\nworld\r\nGET hello\r\n*1\r\n$4\r\nPI")
	var p Parser
	for {
		args, n, err := p.Parse(in)
		if err != nil || n == 0 {
			fmt.Printf("incomplete: %q\n", in)
			break
		}
		fmt.Printf("%q\n", args)
		in = in[n:]
	}
	var reply []byte
	reply = AppendOK(reply)
	reply = AppendBulk(reply, []byte("world"))
	fmt.Printf("%q\n", reply)
	fmt.Println(bytes.Count(reply, []byte("\r\n")))
	// Output:
	// ["SET" "hello" "world"]
	// ["GET" "hello"]
	// incomplete: "*1\r\n$4\r\nPI"
	// "+OK\r\n$5\r\nworld\r\n"
	// 3
}
