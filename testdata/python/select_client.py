#!/usr/bin/env python3
"""The Python select tutorials' non-blocking select() client
(selectclient.py), in Python 3: waits on the socket with a 50 ms timeout,
prints what arrives, and spins a bouncing bar in between.

Usage: select_client.py [HOST [PORT]]   (default localhost 51423)

Changed from the tutorial only where it broke: received bytes are decoded
before writing them to stdout, stdout is really flushed, and the messages are
spelled right.
"""
import select
import socket
import sys

host = sys.argv[1] if len(sys.argv) > 1 else 'localhost'
port = int(sys.argv[2]) if len(sys.argv) > 2 else 51423

spinsize = 10
spinpos = 0
spindir = -1


def spin():
    global spinsize, spinpos, spindir
    spinstr = '.' * spinpos + '|' + '.' * (spinsize - spinpos - 1)
    sys.stdout.write('\r' + spinstr + ' ')
    sys.stdout.flush()

    spinpos += spindir
    if spinpos < 0:
        spinpos = 1
        spindir = 1
    elif spinpos >= spinsize:
        spinpos -= 2
        spindir = -1


s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.connect((host, port))

while 1:
    infds, outfds, errfds = select.select([s], [], [s], 0.05)
    # [s] just the same as [s.fileno()], only need to be a list.
    if len(infds):
        # Normally, one would use something like "for fd in infds" here.
        # We don't bother since there will only ever be a single file
        # descriptor here.
        data = s.recv(4096)
        if not len(data):
            print("\rRemote end closed connection; exiting.")
            break
        # Only one item in here -- if there's anything, it's for us.
        sys.stdout.write("\rReceived: " + data.decode('utf-8', 'replace'))
        sys.stdout.flush()
    if len(errfds):
        print("\rProblem occurred; exiting.")
        sys.exit(0)
    spin()
