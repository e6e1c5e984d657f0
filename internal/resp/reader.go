// Package resp reads and writes RESP2, the Redis serialization protocol:
// commands arrive as multibulk arrays (*N then N $LEN bulk strings) or as
// inline lines a person types into telnet; replies are simple strings,
// errors, integers, bulk strings and arrays.
//
// Parsing is in place and allocates nothing in steady state: a Parser
// returns arguments as slices of the caller's buffer, so a server can run
// a pipelined batch of commands straight out of its read buffer.
//
//	var p resp.Parser
//	args, n, err := p.Parse(buf) // n == 0, err == nil: wait for more bytes
//	reply = resp.AppendBulk(reply, args[0])
package resp

import (
	"bytes"
	"errors"
)

// Limits bound what a Parser accepts; past one, Parse returns a
// ProtocolError. A zero field takes the default of DefaultLimits.
type Limits struct {
	MaxBulk   int // bytes in one bulk string (Redis: proto-max-bulk-len)
	MaxArgs   int // elements of one multibulk command
	MaxInline int // bytes of an inline command line, or of a *N / $N header
}

// DefaultLimits are a Parser's limits where Limits leaves them zero: a
// bulk string of 32 MiB, 1,048,576 arguments, 64 KiB inline lines
// (Redis: 512 MiB, 1,048,576 and 64 KiB).
var DefaultLimits = Limits{MaxBulk: 32 << 20, MaxArgs: 1 << 20, MaxInline: 64 << 10}

// ProtocolError is malformed input: the server replies
// "-ERR Protocol error: <Msg>" and closes the connection, as Redis does.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "Protocol error: " + e.Msg }

// The protocol errors, in Redis's words.
var (
	ErrTooBigInline    = &ProtocolError{"too big inline request"}
	ErrTooBigCount     = &ProtocolError{"too big mbulk count string"}
	ErrTooBigBulkCount = &ProtocolError{"too big bulk count string"}
	ErrMultibulkLength = &ProtocolError{"invalid multibulk length"}
	ErrBulkLength      = &ProtocolError{"invalid bulk length"}
	ErrUnbalancedQuote = &ProtocolError{"unbalanced quotes in request"}
	ErrBulkCRLF        = &ProtocolError{"expected CRLF after bulk string"}
)

// errExpectedDollar is built per byte seen, as Redis words it.
func errExpectedDollar(got byte) error {
	return &ProtocolError{"expected '$', got '" + string(rune(got)) + "'"}
}

// IsProtocolError reports whether err is a ProtocolError.
func IsProtocolError(err error) bool {
	var pe *ProtocolError
	return errors.As(err, &pe)
}

// Parser parses commands. Its zero value uses DefaultLimits. It keeps the
// argument slice (and, for quoted inline arguments, their unescaped bytes)
// between calls, so steady-state parsing allocates nothing. Not safe for
// concurrent use: one per connection, or one per loop.
type Parser struct {
	Limits  Limits
	args    [][]byte
	scratch []byte // unescaped inline arguments
}

// Parse parses the command at the start of p. It returns its arguments
// (slices of p, or of the Parser's scratch for quoted inline arguments;
// valid until the next Parse and while p is) and the bytes it took. n == 0
// with a nil error means p holds no complete command yet; n > 0 with no
// arguments is an empty command (a blank line, *0), which Redis ignores.
// A malformed command returns a *ProtocolError.
func (r *Parser) Parse(p []byte) (args [][]byte, n int, err error) {
	if len(p) == 0 {
		return nil, 0, nil
	}
	r.shrink()
	if p[0] == '*' {
		return r.multibulk(p)
	}
	return r.inline(p)
}

// shrink drops an argument slice or scratch buffer that one huge command
// grew, so a connection does not keep it.
func (r *Parser) shrink() {
	if cap(r.args) > 1024 {
		r.args = nil
	}
	if cap(r.scratch) > 64<<10 {
		r.scratch = nil
	}
}

func (r *Parser) limits() Limits {
	l := r.Limits
	if l.MaxBulk <= 0 {
		l.MaxBulk = DefaultLimits.MaxBulk
	}
	if l.MaxArgs <= 0 {
		l.MaxArgs = DefaultLimits.MaxArgs
	}
	if l.MaxInline <= 0 {
		l.MaxInline = DefaultLimits.MaxInline
	}
	return l
}

// header reads the decimal after p[0] ('*' or '$') up to CRLF: the number,
// the bytes taken (0: incomplete), ok false if it is not a number, and
// tooLong if no CR comes within max bytes. A byte loop, not IndexByte:
// headers are a few bytes, shorter than IndexByte's call costs.
func header(p []byte, max int) (v int64, n int, ok bool, tooLong bool) {
	for i := 1; i < len(p) && i <= max; i++ {
		if p[i] != '\r' {
			continue
		}
		if i+1 >= len(p) {
			return 0, 0, true, false
		}
		if p[i+1] != '\n' {
			return 0, 0, false, false
		}
		v, ok = parseInt(p[1:i])
		return v, i + 2, ok, false
	}
	return 0, 0, true, len(p) > max
}

// parseInt parses a decimal int64 with an optional '-', digits only (no
// '+', no spaces), as Redis's string2ll does; a value that overflows is
// not a number.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	if len(b) > 1 && b[0] == '0' {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if u > (1<<64-1-d)/10 {
			return 0, false
		}
		u = u*10 + d
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > 1<<63-1 {
		return 0, false
	}
	return int64(u), true
}

// ParseInt parses b as Redis parses an integer argument: an optional '-'
// and decimal digits, no leading zeros, no spaces, within int64.
func ParseInt(b []byte) (int64, bool) { return parseInt(b) }

func (r *Parser) multibulk(p []byte) ([][]byte, int, error) {
	lim := r.limits()
	count, off, ok, tooLong := header(p, lim.MaxInline)
	switch {
	case tooLong:
		return nil, 0, ErrTooBigCount
	case !ok || count > int64(lim.MaxArgs):
		return nil, 0, ErrMultibulkLength
	case off == 0:
		return nil, 0, nil
	case count <= 0:
		return r.args[:0], off, nil
	}
	args := r.args[:0]
	for range count {
		rest := p[off:]
		if len(rest) == 0 {
			return nil, 0, nil
		}
		if rest[0] != '$' {
			return nil, 0, errExpectedDollar(rest[0])
		}
		size, hn, ok, tooLong := header(rest, lim.MaxInline)
		switch {
		case tooLong:
			return nil, 0, ErrTooBigBulkCount
		case !ok || size < 0 || size > int64(lim.MaxBulk):
			return nil, 0, ErrBulkLength
		case hn == 0:
			return nil, 0, nil
		}
		end := hn + int(size)
		if len(rest) < end+2 {
			return nil, 0, nil
		}
		if rest[end] != '\r' || rest[end+1] != '\n' {
			return nil, 0, ErrBulkCRLF
		}
		args = append(args, rest[hn:end:end])
		off += end + 2
	}
	r.args = args
	return args, off, nil
}

// inline splits one line (ended by LF, an optional CR before it dropped)
// on spaces and tabs, with Redis's quoting: "..." with \n \r \t \b \a \\
// \" and \xHH escapes, '...' with \'.
func (r *Parser) inline(p []byte) ([][]byte, int, error) {
	lim := r.limits()
	nl := bytes.IndexByte(p, '\n')
	if nl < 0 {
		if len(p) > lim.MaxInline {
			return nil, 0, ErrTooBigInline
		}
		return nil, 0, nil
	}
	if nl > lim.MaxInline {
		return nil, 0, ErrTooBigInline
	}
	line := p[:nl]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	args := r.args[:0]
	if bytes.ContainsAny(line, `"'`) {
		// Unescaped arguments are never longer than the line: with room
		// for all of it, appends never move what earlier arguments point to.
		if cap(r.scratch) < len(line) {
			r.scratch = make([]byte, 0, len(line))
		}
		var err error
		if args, err = splitQuoted(args, r.scratch[:0], line); err != nil {
			return nil, 0, err
		}
	} else {
		for i := 0; i < len(line); {
			for i < len(line) && isSpace(line[i]) {
				i++
			}
			j := i
			for j < len(line) && !isSpace(line[j]) {
				j++
			}
			if j > i {
				args = append(args, line[i:j:j])
			}
			i = j
		}
	}
	if len(args) > lim.MaxArgs {
		return nil, 0, ErrMultibulkLength
	}
	r.args = args
	return args, nl + 1, nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}

func splitQuoted(args [][]byte, buf, line []byte) ([][]byte, error) {
	i := 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			return args, nil
		}
		start := len(buf)
		inDouble, inSingle := false, false
	arg:
		for ; ; i++ {
			if i == len(line) {
				if inDouble || inSingle {
					return nil, ErrUnbalancedQuote
				}
				break
			}
			c := line[i]
			switch {
			case inDouble:
				switch {
				case c == '\\' && i+3 < len(line) && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]):
					buf = append(buf, hexVal(line[i+2])<<4|hexVal(line[i+3]))
					i += 3
				case c == '\\' && i+1 < len(line):
					i++
					buf = append(buf, unescape(line[i]))
				case c == '"':
					// A closing quote must be followed by a space or the end.
					if i+1 < len(line) && !isSpace(line[i+1]) {
						return nil, ErrUnbalancedQuote
					}
					i++
					break arg
				default:
					buf = append(buf, c)
				}
			case inSingle:
				switch {
				case c == '\\' && i+1 < len(line) && line[i+1] == '\'':
					i++
					buf = append(buf, '\'')
				case c == '\'':
					if i+1 < len(line) && !isSpace(line[i+1]) {
						return nil, ErrUnbalancedQuote
					}
					i++
					break arg
				default:
					buf = append(buf, c)
				}
			case isSpace(c):
				break arg
			case c == '"':
				inDouble = true
			case c == '\'':
				inSingle = true
			default:
				buf = append(buf, c)
			}
		}
		args = append(args, buf[start:len(buf):len(buf)])
	}
}

func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	}
	return c
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func hexVal(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
