#!/usr/bin/env python3
"""The Python select tutorials' select() logger (Listing 14-6), in Python 3:
prints what every client sends, and "Got connection from" / "disconnected"
lines.

Usage: log_server.py [HOST [PORT]]   (default localhost 1234; PORT 0 picks a
free port, printed in the "listening" line, which the tutorial does not have).

Changed from the tutorial only where it broke: a client that leaves is closed
(the tutorial leaked it) and named by its saved address (getpeername fails
after a reset), and data is printed as text rather than as b'...'.
"""
import select
import socket
import sys

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

host = sys.argv[1] if len(sys.argv) > 1 else 'localhost'
port = int(sys.argv[2]) if len(sys.argv) > 2 else 1234
s.bind((host, port))

s.listen(5)
print('listening on {} port {}'.format(*s.getsockname()), flush=True)
inputs = [s]
peers = {}
while True:
    rs, ws, es = select.select(inputs, [], [])
    for r in rs:
        if r is s:
            c, addr = s.accept()
            print('Got connection from', addr, flush=True)
            inputs.append(c)
            peers[c] = addr
        else:
            try:
                data = r.recv(1024)
                disconnected = not data
            except socket.error:
                disconnected = True

            if disconnected:
                print(peers.pop(r), 'disconnected', flush=True)
                inputs.remove(r)
                r.close()
            else:
                print(data.decode('utf-8', 'replace'), flush=True)
