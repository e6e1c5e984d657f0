//go:build !linux

package loop

// Only Linux has splice(2): elsewhere Splice returns false and a relay
// copies through OnData.
const spliceSupported = false

type splicePipe struct{}

func (l *Loop) closePipe() { l.pipe = nil } // never made here

func (c *Conn) spliceRead() bool { return false }
