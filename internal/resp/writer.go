package resp

import "strconv"

// The Append functions add one RESP2 reply to b and return the extended
// slice, as strconv.AppendInt does: a server appends a pipelined batch's
// replies to one buffer and sends it with one write.

// AppendSimple appends a simple string: +s\r\n (s must hold no CR or LF).
func AppendSimple(b []byte, s string) []byte {
	b = append(b, '+')
	b = append(b, s...)
	return append(b, '\r', '\n')
}

// AppendOK appends +OK\r\n.
func AppendOK(b []byte) []byte { return append(b, "+OK\r\n"...) }

// AppendError appends an error reply: -msg\r\n. msg starts with its code
// word (ERR, WRONGTYPE, ...); CR and LF in it become spaces, as Redis does.
func AppendError(b []byte, msg string) []byte {
	b = append(b, '-')
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return append(b, '\r', '\n')
}

// AppendInt appends an integer reply: :n\r\n.
func AppendInt(b []byte, n int64) []byte {
	b = append(b, ':')
	b = strconv.AppendInt(b, n, 10)
	return append(b, '\r', '\n')
}

// AppendBulk appends a bulk string: $len\r\np\r\n. p is a []byte or a
// string, so neither is converted (a copy) to be written.
func AppendBulk[T []byte | string](b []byte, p T) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(p)), 10)
	b = append(b, '\r', '\n')
	b = append(b, p...)
	return append(b, '\r', '\n')
}

// AppendBulkInt appends n in decimal as a bulk string (INCRBYFLOAT's
// kind of reply, and a list of scores).
func AppendBulkInt(b []byte, n int64) []byte {
	var d [20]byte
	return AppendBulk(b, strconv.AppendInt(d[:0], n, 10))
}

// AppendNull appends the null bulk string, $-1\r\n (a missing key).
func AppendNull(b []byte) []byte { return append(b, "$-1\r\n"...) }

// AppendNullArray appends the null array, *-1\r\n.
func AppendNullArray(b []byte) []byte { return append(b, "*-1\r\n"...) }

// AppendArray appends an array header for n elements, which the caller
// appends next.
func AppendArray(b []byte, n int) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '\r', '\n')
}
