package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/iomux/iomux/internal/devcert"
)

// certProgram is iomux cert.
func certProgram() *command {
	return &command{
		name:    "cert",
		summary: "write a self-signed development certificate and key for the TLS flags",
		usage: `Usage: iomux cert [--out DIR] [--hosts localhost,127.0.0.1,::1] [--valid 720h] [--force]

Writes a self-signed certificate (ECDSA P-256) for --hosts to DIR/cert.pem
and its private key to DIR/key.pem (mode 0600), for the servers'
--tls-cert and --tls-key; a client trusts it with --tls-ca DIR/cert.pem.
The certificate is its own CA: trust it for development only. Existing
files are not overwritten unless --force is given.

Example:
  $ iomux cert --out /tmp/iomux-tls
  wrote /tmp/iomux-tls/cert.pem (for localhost, 127.0.0.1, ::1; valid until 2027-01-01 12:00 UTC)
  wrote /tmp/iomux-tls/key.pem (mode 0600)
  ...
  $ iomux echo-server --tls-cert /tmp/iomux-tls/cert.pem --tls-key /tmp/iomux-tls/key.pem &
  $ iomux echo-client --tls --tls-ca /tmp/iomux-tls/cert.pem
`,
		run: runCert,
	}
}

func runCert(e *env, args []string) error {
	fs := newFlags(certProgram())
	out := fs.String("out", ".", "write cert.pem and key.pem into this `directory` (created if missing)")
	hosts := fs.String("hosts", "localhost,127.0.0.1,::1", "comma-separated host names and IP addresses the certificate is for")
	valid := fs.Duration("valid", 720*time.Hour, "how long the certificate is valid")
	force := fs.Bool("force", false, "overwrite cert.pem and key.pem if they exist")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	var names []string
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			names = append(names, h)
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("%w: --hosts names no host", errUsage)
	}
	if *valid <= 0 {
		return fmt.Errorf("%w: --valid must be positive", errUsage)
	}
	certPath, keyPath := filepath.Join(*out, "cert.pem"), filepath.Join(*out, "key.pem")
	if !*force {
		for _, p := range []string{certPath, keyPath} {
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("%s exists: not overwriting it (--force does)", p)
			}
		}
	}
	certPEM, keyPEM, err := devcert.Generate(names, *valid)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	// The key first: a certificate without its key is of no use.
	if err := writeNew(keyPath, keyPEM, 0o600, *force); err != nil {
		return err
	}
	if err := writeNew(certPath, certPEM, 0o644, *force); err != nil {
		return err
	}
	until := time.Now().Add(*valid).UTC().Format("2006-01-02 15:04 MST")
	fmt.Fprintf(e.stdout, "wrote %s (for %s; valid until %s)\n", certPath, strings.Join(names, ", "), until)
	fmt.Fprintf(e.stdout, "wrote %s (mode 0600)\n\n", keyPath)
	fmt.Fprintf(e.stdout, "Start a TLS server with them, then a client that trusts the certificate:\n")
	fmt.Fprintf(e.stdout, "  iomux echo-server --tls-cert %s --tls-key %s\n", certPath, keyPath)
	fmt.Fprintf(e.stdout, "  iomux echo-client --tls --tls-ca %s\n", certPath)
	return nil
}

// writeNew writes data to a file that must not exist yet (O_EXCL: no
// race with another writer), or, with force, replaces it; either way the
// file gets mode perm, whatever mode an old one had.
func writeNew(path string, data []byte, perm os.FileMode, force bool) error {
	if force {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists: not overwriting it (--force does)", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
