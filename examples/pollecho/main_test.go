package main

import (
	"strings"
	"testing"

	"github.com/iomux/iomux"
	"github.com/iomux/iomux/examples/internal/echotest"
)

func TestMain(m *testing.M) { echotest.Main(m, main) }

func TestPollEcho(t *testing.T) {
	for _, backend := range iomux.Backends() {
		t.Run(backend, func(t *testing.T) {
			s := echotest.Start(t, "-backend", backend)
			s.EchoSession(t, strings.Repeat("poll! ", 12<<10)) // 72 KiB
		})
	}
}

func TestPollEchoUnknownBackend(t *testing.T) {
	out, err := echotest.Command("-addr", "127.0.0.1:0", "-backend", "nosuch").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "unknown backend") {
		t.Fatalf("pollecho -backend nosuch: %v\n%s", err, out)
	}
}

func TestPollEchoPythonClients(t *testing.T) { echotest.Start(t).PythonClients(t) }
