// Package nbserve runs an nbio nbhttp engine as the peers that use it do:
// plain or TLS (nbio's llib fork of crypto/tls) on the peer's address,
// until the process is killed.
package nbserve

import (
	"fmt"
	"os"

	"github.com/lesismal/llib/std/crypto/tls"
	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"

	"github.com/iomux/iomux/bench/peers/internal/peerargs"
)

// Run serves conf (its Handler and options set; Network, Addrs or
// AddrsTLS and TLSConfig are Run's) on args' address, and exits with a
// message naming the peer if it cannot.
func Run(name string, args peerargs.Args, conf nbhttp.Config) {
	logging.SetLevel(logging.LevelError)
	conf.Network = "tcp"
	if args.TLS() {
		cert, err := tls.LoadX509KeyPair(args.CertFile, args.KeyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, name+":", err)
			os.Exit(1)
		}
		conf.AddrsTLS = []string{args.Addr}
		conf.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	} else {
		conf.Addrs = []string{args.Addr}
	}
	engine := nbhttp.NewEngine(conf)
	if err := engine.Start(); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
	select {}
}
