package http1

import (
	"net/http"
	"strconv"
	"strings"
)

// parseFields reads header fields from s at pos up to the first empty line,
// as net/textproto's ReadMIMEHeader reads them (a request's head, or a
// chunked body's trailers): lines end at LF; a line that starts with space
// or tab continues the one before it (obs-fold, RFC 9112 section 5.2),
// joined by one space; a name is cut at the first colon and canonicalized
// unless it holds a space (net/http refuses it later); a value may hold
// tab, space, VCHAR and obs-text, its leading blanks and the line's
// trailing blanks trimmed. The values are substrings of s.
func parseFields(s string, pos int) (http.Header, error) {
	h, _, err := parseFieldsAside(s, pos, "")
	return h, err
}

// aside is what parseFieldsAside keeps out of the map: the first value of
// a key, and how many there are.
type aside struct {
	first string
	n     int
}

// parseFieldsAside is parseFields with the values of key (canonical; ""
// for none) kept out of the map: a request's Host, which net/http takes
// out of the header anyway. A request with no other field then costs the
// map's header alone.
func parseFieldsAside(s string, pos int, aKey string) (http.Header, aside, error) {
	var a aside
	if pos < len(s) && (s[pos] == ' ' || s[pos] == '\t') {
		line, _, _ := nextLine(s, pos)
		if len(line) > 80 {
			return nil, a, badRequest("message too large") // textproto quotes at most 80 bytes
		}
		return nil, a, badRequest("malformed MIME header initial line: " + strconv.Quote(line))
	}
	n := countFields(s, pos)
	h := make(http.Header, n)
	var strs []string // one backing array for the common single values, made for the first
	for {
		line, next, ok := nextLine(s, pos)
		if !ok {
			return nil, a, badRequest("http1: head has no end")
		}
		pos = next
		if line == "" {
			return h, a, nil
		}
		if strings.IndexByte(line, ':') < 0 {
			return nil, a, badRequest("malformed MIME header: missing colon: " + strconv.Quote(line))
		}
		kv := trimOWS(line)
		if pos < len(s) && (s[pos] == ' ' || s[pos] == '\t') {
			kv, pos = unfold(s, pos, kv)
		}
		k, v, _ := strings.Cut(kv, ":")
		key, ok := canonicalKey(k)
		if !ok {
			return nil, a, badRequest("malformed MIME header line: " + strconv.Quote(kv))
		}
		for i := 0; i < len(v); i++ {
			if !fieldValueByte(v[i]) {
				return nil, a, badRequest("malformed MIME header line: " + strconv.Quote(kv))
			}
		}
		for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
			v = v[1:]
		}
		if key == aKey && aKey != "" {
			if a.n == 0 {
				a.first = v
			}
			a.n++
			n--
			continue
		}
		if strs == nil {
			strs = make([]string, n)
		}
		vv := h[key]
		if vv == nil && len(strs) > 0 {
			vv, strs = strs[:1:1], strs[1:]
			vv[0] = v
			h[key] = vv
		} else {
			h[key] = append(vv, v)
		}
	}
}

// unfold joins to kv the continuation lines at pos, each without its
// leading and trailing blanks and after one space, and returns where the
// next field starts.
func unfold(s string, pos int, kv string) (string, int) {
	b := []byte(kv)
	for pos < len(s) && (s[pos] == ' ' || s[pos] == '\t') {
		for pos < len(s) && (s[pos] == ' ' || s[pos] == '\t') {
			pos++
		}
		b = append(b, ' ')
		line, next, ok := nextLine(s, pos)
		if !ok {
			break
		}
		b = append(b, trimOWS(line)...)
		pos = next
	}
	return string(b), pos
}

// countFields counts the fields from pos to the empty line: lines that do
// not continue another.
func countFields(s string, pos int) (n int) {
	for pos < len(s) {
		line, next, ok := nextLine(s, pos)
		if !ok || line == "" {
			break
		}
		if line[0] != ' ' && line[0] != '\t' {
			n++
		}
		pos = next
	}
	return n
}

// canonicalKey returns the key under which a field named k is stored, as
// net/textproto's canonicalMIMEHeaderKey: "content-type" is
// "Content-Type"; a name with a space is kept as it is; ok is false for an
// empty name or one with another byte that is not a token's. A name that
// is already canonical costs nothing, another costs an allocation unless
// it is a common one.
func canonicalKey(k string) (key string, ok bool) {
	if k == "" {
		return "", false
	}
	canonical := true
	upper := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !tokenByte[c] {
			if c != ' ' {
				return "", false
			}
			return k, checkSpaced(k[i+1:])
		}
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			canonical = false
		}
		upper = c == '-'
	}
	if canonical {
		return k, true
	}
	var stack [64]byte
	b := stack[:0]
	if len(k) > len(stack) {
		b = make([]byte, 0, len(k))
	}
	upper = true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
		upper = c == '-'
	}
	if v, ok := commonKeys[string(b)]; ok { // no allocation for the lookup
		return v, true
	}
	return string(b), true
}

// checkSpaced reports whether the rest of a name that holds a space is
// made of token bytes and spaces only.
func checkSpaced(rest string) bool {
	for i := 0; i < len(rest); i++ {
		if !tokenByte[rest[i]] && rest[i] != ' ' {
			return false
		}
	}
	return true
}

// commonKeys interns the canonical names of common fields, so that a
// request that sends them in another case allocates no key.
var commonKeys = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{
		"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Authorization",
		"Cache-Control", "Connection", "Content-Length", "Content-Type", "Cookie", "Date",
		"Dnt", "Expect", "Host", "If-Modified-Since", "If-None-Match", "Origin", "Pragma",
		"Referer", "Sec-Ch-Ua", "Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform", "Sec-Fetch-Dest",
		"Sec-Fetch-Mode", "Sec-Fetch-Site", "Sec-Fetch-User", "Te", "Trailer",
		"Transfer-Encoding", "Upgrade", "Upgrade-Insecure-Requests", "User-Agent", "Via",
		"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip",
		"X-Requested-With",
	} {
		m[k] = k
	}
	return m
}()
