// Package peerargs reads the command line of the bench peers that serve
// TLS too: [--tls-cert FILE --tls-key FILE] HOST:PORT, as bench/run
// starts them.
package peerargs

import (
	"flag"
	"fmt"
	"os"
)

// Args is a peer's command line.
type Args struct {
	Addr     string // host:port to listen on
	CertFile string // PEM certificate, "" for plain TCP
	KeyFile  string // PEM private key of CertFile
}

// TLS reports whether the peer is to serve TLS.
func (a Args) TLS() bool { return a.CertFile != "" }

// Parse reads os.Args for the peer called name; needTLS makes the
// certificate and key required. Flags the peer defined on the flag
// package's command line before calling Parse (the HTTP peers' --dir) are
// read too. A bad command line prints the usage and exits with status 2.
func Parse(name string, needTLS bool) Args {
	var a Args
	flag.StringVar(&a.CertFile, "tls-cert", "", "serve TLS with this PEM certificate `file` (and --tls-key)")
	flag.StringVar(&a.KeyFile, "tls-key", "", "PEM private key `file` of --tls-cert")
	flag.Parse()
	usage := "[--tls-cert FILE --tls-key FILE]"
	if needTLS {
		usage = "--tls-cert FILE --tls-key FILE"
	}
	if flag.NArg() != 1 || (a.CertFile == "") != (a.KeyFile == "") || needTLS && !a.TLS() {
		fmt.Fprintf(os.Stderr, "usage: %s %s HOST:PORT\n", name, usage)
		flag.PrintDefaults()
		os.Exit(2)
	}
	a.Addr = flag.Arg(0)
	return a
}
