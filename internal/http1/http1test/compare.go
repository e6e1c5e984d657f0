package http1test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// Compare says precisely how got differs from want (nil if it does not):
// whether the connection closed, the interim and final responses, their
// versions, status lines, fields (Date left out, as Exchange leaves it
// out) and bodies; two Inspect reports are compared field by field.
func Compare(want, got Result) error {
	var diffs []string
	add := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	if want.Closed != got.Closed {
		add("closed: want %v, got %v", want.Closed, got.Closed)
	}
	compareList := func(what string, w, g []Response) {
		if len(w) != len(g) {
			add("%s responses: want %d, got %d", what, len(w), len(g))
		}
		for i := range min(len(w), len(g)) {
			for _, d := range compareResponse(w[i], g[i]) {
				add("%s response %d: %s", what, i, d)
			}
		}
	}
	compareList("interim", want.Interim, got.Interim)
	compareList("final", want.Responses, got.Responses)
	if diffs == nil {
		return nil
	}
	return fmt.Errorf("%s\nwant received %q\n got received %q", strings.Join(diffs, "\n"), want.Received, got.Received)
}

func compareResponse(w, g Response) (diffs []string) {
	add := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	if w.Proto != g.Proto {
		add("proto: want %q, got %q", w.Proto, g.Proto)
	}
	if w.Status != g.Status {
		add("status: want %q, got %q", w.Status, g.Status)
	}
	if w.Before != g.Before {
		add("before final response: want %d, got %d", w.Before, g.Before)
	}
	keys := make(map[string]bool)
	for k := range w.Header {
		keys[k] = true
	}
	for k := range g.Header {
		keys[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if !slices.Equal(w.Header[k], g.Header[k]) {
			add("field %s: want %q, got %q", k, w.Header[k], g.Header[k])
		}
	}
	if !bytes.Equal(w.Body, g.Body) {
		if d, err := compareReports(w.Body, g.Body); err == nil {
			diffs = append(diffs, d...)
		} else {
			add("body: want %q, got %q", w.Body, g.Body)
		}
	}
	return diffs
}

// compareReports compares two Inspect reports field by field.
func compareReports(w, g []byte) ([]string, error) {
	var wm, gm map[string]any
	if json.Unmarshal(w, &wm) != nil || json.Unmarshal(g, &gm) != nil {
		return nil, errors.New("not reports")
	}
	var diffs []string
	keys := make(map[string]bool)
	for k := range wm {
		keys[k] = true
	}
	for k := range gm {
		keys[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if !reflect.DeepEqual(wm[k], gm[k]) {
			diffs = append(diffs, fmt.Sprintf("report %s: want %v, got %v", k, wm[k], gm[k]))
		}
	}
	if diffs == nil {
		diffs = []string{fmt.Sprintf("body bytes: want %q, got %q", w, g)}
	}
	return diffs, nil
}
