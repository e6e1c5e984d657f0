package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iomux/iomux"
)

func TestBenchWaitTableAndChart(t *testing.T) {
	checkBenchLeaks(t)
	out := filepath.Join(t.TempDir(), "wait.svg")
	var stdout bytes.Buffer
	if err := runBenchWait([]string{"--max", "100", "--time", "2ms", "--out", out}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	table := stdout.String()
	if !strings.Contains(table, "| backend | N=10 | N=100 |") {
		t.Fatalf("table header missing:\n%s", table)
	}
	for _, b := range iomux.Backends() {
		if !strings.Contains(table, "| "+b+" | ") {
			t.Errorf("no row for %s:\n%s", b, table)
		}
	}

	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Well-formed XML, an <svg> root, one polyline with two points per backend.
	dec := xml.NewDecoder(f)
	var root string
	lines := map[string]bool{}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("chart is not well-formed XML: %v", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if root == "" {
			root = se.Name.Local
		}
		if se.Name.Local == "polyline" {
			for _, a := range se.Attr {
				if a.Name.Local == "points" && len(strings.Fields(a.Value)) == 2 {
					lines[a.Value] = true
				}
			}
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	if len(lines) != len(iomux.Backends()) {
		t.Fatalf("%d two-point lines, want one per backend (%d)", len(lines), len(iomux.Backends()))
	}
}

func TestBenchWaitSelectLimit(t *testing.T) {
	checkBenchLeaks(t)
	var stdout bytes.Buffer
	// 2000 descriptors: over select's FD_SETSIZE, so its cell is a dash.
	if err := runBenchWait([]string{"--max", "2000", "--time", "1ms"}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(stdout.String(), "\n") {
		if strings.HasPrefix(line, "| select |") && !strings.HasSuffix(line, "— |") {
			t.Fatalf("select measured past its limit: %s", line)
		}
	}
}
