package kv

import "github.com/iomux/iomux/internal/resp"

// blockedFlag reports whether the session waits in a blocking command.
func (sess *Session) blockedFlag() bool { return false }

// clientUnblock is CLIENT UNBLOCK id [TIMEOUT|ERROR]: 0, no client waits.
func clientUnblock(sess *Session, out []byte, args [][]byte) []byte {
	return resp.AppendInt(out, 0)
}

// signal tells clients blocked on key that it may have changed.
func (s *Store) signal(key []byte) {}
