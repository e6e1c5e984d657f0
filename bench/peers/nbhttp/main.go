// Command nbhttp is iomux http-server's handlers (internal/httpserver:
// /plaintext, --dir's files through http.FileServer, …) on lesismal/nbio's
// nbhttp, the net/http-compatible event-loop server: requests parsed on
// nbio's poller, handlers on its goroutine pool. With --tls-cert and
// --tls-key it serves HTTPS with nbio's own TLS (AddrsTLS:
// github.com/lesismal/llib's fork of crypto/tls, handshakes on the poller).
// Its keep-alive timeout is its default, 2 minutes, as iomux http-server's.
//
//	nbhttp [--dir DIR] [--tls-cert cert.pem --tls-key key.pem] 127.0.0.1:8080
package main

import (
	"flag"

	"github.com/iomux/iomux/bench/peers/internal/nbserve"
	"github.com/iomux/iomux/bench/peers/internal/peerargs"
	"github.com/iomux/iomux/internal/httpserver"

	"github.com/lesismal/nbio/nbhttp"
)

func main() {
	dir := flag.String("dir", "", "serve the files of `directory` below / (http.FileServer)")
	args := peerargs.Parse("nbhttp", false)
	nbserve.Run("nbhttp", args, nbhttp.Config{Handler: httpserver.New(*dir)})
}
