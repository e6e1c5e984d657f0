// Command nbio is lesismal/nbio's echo server: OnData writes the data back.
//
//	nbio 127.0.0.1:7000
package main

import (
	"fmt"
	"os"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: nbio HOST:PORT")
		os.Exit(2)
	}
	logging.SetLevel(logging.LevelError)
	engine := nbio.NewEngine(nbio.Config{Network: "tcp", Addrs: []string{os.Args[1]}})
	engine.OnData(func(c *nbio.Conn, data []byte) { c.Write(data) })
	if err := engine.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "nbio:", err)
		os.Exit(1)
	}
	select {}
}
