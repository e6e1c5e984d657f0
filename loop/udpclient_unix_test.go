//go:build unix

package loop

import (
	"net"
	"testing"
)

// dialUDP is the tests' UDP client: the net package's (see
// udpclient_windows_test.go for why not on Windows).
func dialUDP(t *testing.T, network, address string) net.Conn {
	t.Helper()
	c, err := net.Dial(network, address)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
