package kv

// Match reports whether s matches the glob pattern, as KEYS and SCAN MATCH
// use it: * any run of bytes, ? one byte, [abc] [^abc] [a-z] a class,
// \x the byte x itself. A malformed class ([ without ]) matches its bytes
// as far as they go, as Redis's stringmatch does.
func Match(pattern, s []byte) bool {
	// The classic backtracking matcher: on a mismatch after a '*', retry
	// with the star taking one more byte. Linear in practice; the worst
	// case (many stars) is O(len(pattern) * len(s)), with no recursion.
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(pattern) {
			switch c := pattern[p]; c {
			case '*':
				for p < len(pattern) && pattern[p] == '*' {
					p++
				}
				if p == len(pattern) {
					return true
				}
				starP, starI = p, i
				continue
			case '?':
				p++
				i++
				continue
			case '[':
				if ok, next := matchClass(pattern, p, s[i]); ok {
					p = next
					i++
					continue
				}
			case '\\':
				if p+1 < len(pattern) {
					if pattern[p+1] == s[i] {
						p += 2
						i++
						continue
					}
					break
				}
				fallthrough
			default:
				if c == s[i] {
					p++
					i++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starI++
		p, i = starP, starI
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchClass matches c against the class that starts at pattern[p] ('['):
// whether it matched, and the index after the class.
func matchClass(pattern []byte, p int, c byte) (bool, int) {
	p++
	not := p < len(pattern) && pattern[p] == '^'
	if not {
		p++
	}
	match := false
	for p < len(pattern) && pattern[p] != ']' {
		switch {
		case pattern[p] == '\\' && p+1 < len(pattern):
			p++
			if pattern[p] == c {
				match = true
			}
		case p+2 < len(pattern) && pattern[p+1] == '-' && pattern[p+2] != ']':
			lo, hi := pattern[p], pattern[p+2]
			if lo > hi {
				lo, hi = hi, lo
			}
			if lo <= c && c <= hi {
				match = true
			}
			p += 2
		case pattern[p] == c:
			match = true
		}
		p++
	}
	if p < len(pattern) {
		p++ // the ']'
	}
	return match != not, p
}
