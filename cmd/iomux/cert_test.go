package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iomux/iomux/internal/iomuxtest"
)

// iomux cert writes a pair for --hosts, the key 0600, says how to use it,
// and the two commands it prints work as printed (with another --addr);
// it refuses to overwrite unless --force.
func TestCertWritesAPairTheProgramsUse(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	dir := filepath.Join(iomuxtest.TempDir(t), "tls")
	code, out, errs := runIomux("cert", "--out", dir)
	if code != 0 || errs != "" {
		t.Fatalf("iomux cert: exit %d, stderr %q", code, errs)
	}
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for _, want := range []string{"wrote " + certPath + " (for localhost, 127.0.0.1, ::1; valid until ",
		"wrote " + keyPath + " (mode 0600)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if info, err := os.Stat(keyPath); err != nil || info.Mode().Perm() != privateFileMode {
		t.Fatalf("key.pem: %v, mode %v; want %v", err, info.Mode().Perm(), os.FileMode(privateFileMode))
	}
	cert := readCert(t, certPath)
	if !slices.Equal(cert.DNSNames, []string{"localhost"}) || len(cert.IPAddresses) != 2 ||
		!cert.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) || !cert.IPAddresses[1].Equal(net.IPv6loopback) {
		t.Errorf("certificate for %v and %v, want localhost, 127.0.0.1 and ::1", cert.DNSNames, cert.IPAddresses)
	}
	if left := time.Until(cert.NotAfter); left < 719*time.Hour || left > 721*time.Hour {
		t.Errorf("certificate valid for %v more, want 720h", left)
	}

	server, client := printedCommands(t, out)
	s := srvStart(t, runEchoServer, server...)
	var echoed bytes.Buffer
	if err := runEchoClient(testEnv(&echoed, &bytes.Buffer{}), append(client, "--addr", s.addr)); err != nil {
		t.Fatalf("the printed client command: %v", err)
	}
	checkEchoOutput(t, echoed.String(), 2, multiclientMessages)

	before, _ := os.ReadFile(certPath)
	code, out, errs = runIomux("cert", "--out", dir)
	if code != 1 || out != "" || !strings.Contains(errs, certPath+" exists: not overwriting it (--force does)") {
		t.Errorf("iomux cert again: exit %d, stdout %q, stderr %q; want a refusal", code, out, errs)
	}
	if after, _ := os.ReadFile(certPath); !bytes.Equal(before, after) {
		t.Error("the refused run changed cert.pem")
	}
	os.Chmod(keyPath, 0o644)
	if code, _, errs := runIomux("cert", "--out", dir, "--force", "--hosts", "example.test, 10.1.2.3", "--valid", "1h"); code != 0 {
		t.Fatalf("iomux cert --force: exit %d, stderr %q", code, errs)
	}
	if info, _ := os.Stat(keyPath); info.Mode().Perm() != privateFileMode {
		t.Errorf("key.pem rewritten with mode %v, want %v", info.Mode().Perm(), os.FileMode(privateFileMode))
	}
	if cert := readCert(t, certPath); !slices.Equal(cert.DNSNames, []string{"example.test"}) ||
		len(cert.IPAddresses) != 1 || cert.IPAddresses[0].String() != "10.1.2.3" {
		t.Errorf("--force --hosts: certificate for %v and %v", cert.DNSNames, cert.IPAddresses)
	}
}

func TestCertUsageErrors(t *testing.T) {
	dir := iomuxtest.TempDir(t)
	for _, args := range [][]string{
		{"--hosts", " , "},
		{"--valid", "0s"},
		{"--valid", "-1h"},
		{"extra"},
	} {
		code, out, errs := runIomux(append([]string{"cert", "--out", dir}, args...)...)
		if code != 2 || out != "" || !strings.Contains(errs, "Run 'iomux cert --help' for usage.") {
			t.Errorf("iomux cert %q: exit %d, stdout %q, stderr %q; want a usage error", args, code, out, errs)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("a usage error wrote %d files", len(entries))
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s: no PEM certificate", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// printedCommands finds the two example commands in iomux cert's output
// and returns their flags: echo-server's, echo-client's.
func printedCommands(t *testing.T, out string) (server, client []string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		switch {
		case len(fields) > 2 && fields[0] == "iomux" && fields[1] == "echo-server":
			server = fields[2:]
		case len(fields) > 2 && fields[0] == "iomux" && fields[1] == "echo-client":
			client = fields[2:]
		}
	}
	if server == nil || client == nil {
		t.Fatalf("no server and client commands in:\n%s", out)
	}
	return server, client
}
