// Command nethttp is iomux http-server's handlers (internal/httpserver:
// /plaintext, --dir's files through http.FileServer, …) on net/http.Server:
// a goroutine and two bufio buffers per connection. The timeouts are iomux
// http-server's defaults (ReadHeaderTimeout 5 s, IdleTimeout 2 min), so
// both servers keep the same timers. With --tls-cert and --tls-key it
// serves HTTPS with crypto/tls (ServeTLS).
//
//	nethttp [--dir DIR] [--tls-cert cert.pem --tls-key key.pem] 127.0.0.1:8080
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/iomux/iomux/bench/peers/internal/peerargs"
	"github.com/iomux/iomux/internal/httpserver"
)

func main() {
	dir := flag.String("dir", "", "serve the files of `directory` below / (http.FileServer)")
	args := peerargs.Parse("nethttp", false)
	ln, err := net.Listen("tcp", args.Addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nethttp:", err)
		os.Exit(1)
	}
	srv := &http.Server{
		Handler:           httpserver.New(*dir),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	if args.TLS() {
		err = srv.ServeTLS(ln, args.CertFile, args.KeyFile)
	} else {
		err = srv.Serve(ln)
	}
	fmt.Fprintln(os.Stderr, "nethttp:", err)
	os.Exit(1)
}
