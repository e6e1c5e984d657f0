package main

import "errors"

// chat-client does not edit the typed line in a Windows console (editsLine
// is false: see chatclient_stdin_windows.go), so these are never reached.

func (c *chatClient) wakeOnSignal() (stop func()) { return func() {} }

func enterChatMode(fd int) (restore func(), err error) {
	return nil, errors.New("chat-client edits no line in a Windows console")
}

func (c *chatClient) termWidth() int { return 0 }
