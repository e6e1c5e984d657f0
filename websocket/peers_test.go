package websocket_test

// Clients of other languages against Upgrade on loophttp: Python's
// websockets (Debian's python3-websockets) and Node's ws (npm). Each
// skips when its runtime or library is missing.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/python"
	"github.com/iomux/iomux/loop"
	"github.com/iomux/iomux/websocket"
)

func runPeer(t *testing.T, dir string, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "OK" {
		t.Fatalf("%s: %v\n%s", filepath.Base(name), err, out)
	}
}

func TestPythonWebsocketsClient(t *testing.T) {
	// Debian's python3-websockets is the system interpreter's: a python3
	// of a version manager first on PATH may lack it.
	var py string
	for _, p := range []string{python.Path(), "/usr/bin/python3"} {
		if p != "" && exec.Command(p, "-c", "import websockets").Run() == nil {
			py = p
			break
		}
	}
	if py == "" {
		t.Skip("Python's websockets is not installed (apt-get install python3-websockets)")
	}
	url := "ws://" + serveHTTP(t, &echo{}, &websocket.Options{Compression: true}, loop.Options{}, nil) + "/ws"
	script, _ := filepath.Abs("testdata/peer_client.py")
	runPeer(t, ".", py, script, url)
}

func TestNodeWsClient(t *testing.T) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "ws@8")
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		t.Skipf("npm install ws failed (offline?): %v\n%s", err, out)
	}
	script, _ := filepath.Abs("testdata/peer_client.js")
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "client.js"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	url := "ws://" + serveHTTP(t, &echo{}, &websocket.Options{Compression: true}, loop.Options{}, nil) + "/ws"
	runPeer(t, dir, node, "client.js", url)
}
