package http1

import (
	"net/url"
	"testing"
)

// TestPlainTarget: a target plainTarget takes makes the URL
// url.ParseRequestURI makes of it; the common ones are taken.
func TestPlainTarget(t *testing.T) {
	for _, target := range []string{
		"/", "/plaintext", "/a/b.c-d_e~f/", "//x", "/a?b=c", "/a?", "/a??", "/a?b?", "/?", "/a?b c",
		"/a?%zz", "/a?\x7f", "/a?\x01", "/a?é", "/a%20b", "/a+b", "/a;b", "/a:b", "/ä", "*", "", "http://x/y", "a/b", "/a#b", "/a?b#c",
	} {
		path, query, force, ok := plainTarget(target)
		if !ok {
			continue
		}
		want, err := url.ParseRequestURI(target)
		if err != nil {
			t.Errorf("%q: taken, but ParseRequestURI fails: %v", target, err)
			continue
		}
		if got := (url.URL{Path: path, RawQuery: query, ForceQuery: force}); got != *want {
			t.Errorf("%q: got %#v, ParseRequestURI makes %#v", target, got, *want)
		}
	}
	for _, target := range []string{"/", "/plaintext", "/a/b?c=d&e", "/a?"} {
		if _, _, _, ok := plainTarget(target); !ok {
			t.Errorf("%q is not taken", target)
		}
	}
}
