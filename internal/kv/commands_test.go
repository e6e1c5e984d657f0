package kv

import "testing"

// The commands added for Redis's test suite, on one session: a table of
// command and the exact reply redis-server 7.0.15 gives (the differential
// test in cmd/iomux compares them with a live redis-server too).
func TestCommands(t *testing.T) {
	sess := NewStore().NewSession()
	defer sess.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ZADD", "z", "1", "a", "2", "b", "3", "c"}, ":3\r\n"},
		{[]string{"ZRANGE", "z", "(1", "+inf", "BYSCORE"}, "*2\r\n$1\r\nb\r\n$1\r\nc\r\n"},
		{[]string{"ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "1"}, "*1\r\n$1\r\nb\r\n"},
		{[]string{"ZRANGEBYLEX", "z", "-", "(c"}, "*2\r\n$1\r\na\r\n$1\r\nb\r\n"},
		{[]string{"ZCOUNT", "z", "2", "3"}, ":2\r\n"},
		{[]string{"ZREVRANK", "z", "a"}, ":2\r\n"},
		{[]string{"ZADD", "z", "XX", "INCR", "1.5", "a"}, "$3\r\n2.5\r\n"},
		{[]string{"ZINTERCARD", "1", "z", "LIMIT", "2"}, ":2\r\n"},
		{[]string{"RPUSH", "l", "a", "b", "a"}, ":3\r\n"},
		{[]string{"LPOS", "l", "a", "RANK", "-1"}, ":2\r\n"},
		{[]string{"LREM", "l", "0", "a"}, ":2\r\n"},
		{[]string{"LPOP", "l", "1", "1"}, "-ERR wrong number of arguments for 'lpop' command\r\n"},
		{[]string{"SET", "f", "10.5"}, "+OK\r\n"},
		{[]string{"INCRBYFLOAT", "f", "0.1"}, "$4\r\n10.6\r\n"},
		{[]string{"INCRBYFLOAT", "f", "1e3"}, "$22\r\n1010.59999999999999998\r\n"},
		{[]string{"SETRANGE", "s", "2", "x"}, ":3\r\n"},
		{[]string{"GET", "s"}, "$3\r\n\x00\x00x\r\n"},
		{[]string{"GETRANGE", "s", "-1", "-1"}, "$1\r\nx\r\n"},
		{[]string{"CONFIG", "SET", "zset-max-ziplist-entries", "5"}, "+OK\r\n"},
		{[]string{"CONFIG", "GET", "zset-max-listpack-entries"}, "*2\r\n$25\r\nzset-max-listpack-entries\r\n$1\r\n5\r\n"},
		{[]string{"FUNCTION", "FLUSH"}, "+OK\r\n"},
		{[]string{"CLIENT", "REPLY", "SKIP"}, ""},
		{[]string{"PING"}, ""},
		{[]string{"PING"}, "+PONG\r\n"},
		{[]string{"CLIENT", "REPLY", "OFF"}, ""},
		{[]string{"PING"}, ""},
		{[]string{"CLIENT", "REPLY", "ON"}, "+OK\r\n"},
	} {
		if got := run(sess, tc.args...); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.args, got, tc.want)
		}
	}
}
