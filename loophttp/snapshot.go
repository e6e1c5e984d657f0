package loophttp

import (
	"net/http"
	"slices"
	"strings"

	"github.com/iomux/iomux/internal/http1"
)

// field is one header field of a response's head.
type field struct {
	key, value string
	none       bool // the key is set with no value (nil suppresses Date, say)
	skip       bool // the head leaves it out
}

// snapshot is the handler's header map as WriteHeader found it, which is
// what the head is made of (later changes to the map do not count, as
// with net/http, which takes a Clone): its fields sorted by key, each
// key's values in order. The strings are the map's own (strings do not
// change), and the array is the connection's (busy.fields), used again
// by the next response: a snapshot is used only until its head is
// committed, before the next request's handler runs. So taking it
// allocates nothing once the array has grown.
type snapshot []field

// takeSnapshot copies h into the array of b.
func takeSnapshot(b *busy, h http.Header) snapshot {
	s := b.fields[:0]
	if len(h) > 0 {
		var keysBuf [16]string
		keys := keysBuf[:0]
		for k := range h {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			vv := h[k]
			if len(vv) == 0 {
				s = append(s, field{key: k, none: true})
			}
			for _, v := range vv {
				s = append(s, field{key: k, value: v})
			}
		}
	}
	b.fields = s
	return s
}

// has reports whether key k is set (with no value too, as a map's key).
func (s snapshot) has(k string) bool {
	for i := range s {
		if s[i].key == k {
			return true
		}
	}
	return false
}

// first is k's first value ("" if none).
func (s snapshot) first(k string) string {
	for i := range s {
		if s[i].key == k && !s[i].none {
			return s[i].value
		}
	}
	return ""
}

// hasValue reports whether k has a value (an empty one too).
func (s snapshot) hasValue(k string) bool {
	for i := range s {
		if s[i].key == k && !s[i].none {
			return true
		}
	}
	return false
}

// hasToken reports whether k's comma-separated values list token,
// case-insensitively.
func (s snapshot) hasToken(k, token string) bool {
	for i := range s {
		if s[i].key == k && !s[i].none && listsToken(s[i].value, token) {
			return true
		}
	}
	return false
}

// leaveOut marks k's fields to be left out of the head (they still count
// for has, first and the others).
func (s snapshot) leaveOut(k string) {
	for i := range s {
		if s[i].key == k {
			s[i].skip = true
		}
	}
}

// remove deletes k's fields.
func (s *snapshot) remove(k string) {
	*s = slices.DeleteFunc(*s, func(f field) bool { return f.key == k })
}

// appendTo writes the fields to b in order, leaving out those marked and
// those with an invalid name; a value's line breaks become spaces.
func (s snapshot) appendTo(b []byte) []byte {
	for i := range s {
		if f := &s[i]; !f.skip && !f.none && http1.IsToken(f.key) {
			b = appendField(b, f.key, f.value)
		}
	}
	return b
}

// trailerKeys reports whether the snapshot has http.TrailerPrefix keys,
// marking them to be left out of the head.
func (s snapshot) trailerKeys() bool {
	found := false
	for i := range s {
		if strings.HasPrefix(s[i].key, http.TrailerPrefix) {
			s[i].skip = true
			found = true
		}
	}
	return found
}
