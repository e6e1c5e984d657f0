package main

import (
	"strings"
	"testing"

	"github.com/iomux/iomux/examples/internal/echotest"
)

func TestMain(m *testing.M) { echotest.Main(m, main) }

func TestSelectEcho(t *testing.T) {
	s := echotest.Start(t)
	s.EchoSession(t, strings.Repeat("select! ", 8<<10)) // 64 KiB
}

func TestSelectEchoTimeout(t *testing.T) {
	s := echotest.Start(t, "-timeout", "10ms")
	s.WaitLog(t, "  timed out, do some other work here")
	echotest.EchoParts(t, s.Addr, 1, "Part one of the message.", "Part two of the message.")
}

func TestSelectEchoPythonClients(t *testing.T) { echotest.Start(t).PythonClients(t) }
