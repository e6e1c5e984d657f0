// Command fasthttp is TechEmpower's plaintext test on valyala/fasthttp's
// own API (not net/http's): /plaintext answers "Hello, World!" as
// text/plain, with fasthttp's Date and Content-Length; anything else is
// 404. A goroutine per connection from fasthttp's worker pool, its
// buffers pooled. Its idle timeout is iomux http-server's default,
// 2 minutes. With --tls-cert and --tls-key it serves HTTPS with crypto/tls.
//
//	fasthttp [--tls-cert cert.pem --tls-key key.pem] 127.0.0.1:8080
package main

import (
	"fmt"
	"net"
	"os"
	"time"

	"github.com/iomux/iomux/bench/peers/internal/peerargs"

	"github.com/valyala/fasthttp"
)

func main() {
	args := peerargs.Parse("fasthttp", false)
	ln, err := net.Listen("tcp", args.Addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fasthttp:", err)
		os.Exit(1)
	}
	srv := &fasthttp.Server{Handler: handle, Name: "iomux", IdleTimeout: 2 * time.Minute}
	if args.TLS() {
		err = srv.ServeTLS(ln, args.CertFile, args.KeyFile)
	} else {
		err = srv.Serve(ln)
	}
	fmt.Fprintln(os.Stderr, "fasthttp:", err)
	os.Exit(1)
}

var hello = []byte("Hello, World!")

func handle(ctx *fasthttp.RequestCtx) {
	if string(ctx.Path()) != "/plaintext" {
		ctx.NotFound()
		return
	}
	ctx.SetContentType("text/plain")
	ctx.Write(hello)
}
