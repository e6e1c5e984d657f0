#!/usr/bin/env python3
"""The Python select tutorials' non-blocking poll() client (pollclient.py), in
Python 3: polls the socket every 50 ms, prints what arrives, and spins a
bouncing bar in between.

Usage: poll_client.py [HOST [PORT]]   (default localhost 51423)

Changed from the tutorial only where it broke: received bytes are decoded
before writing them to stdout, and the messages are spelled right.
"""
import select
import socket
import sys

host = sys.argv[1] if len(sys.argv) > 1 else 'localhost'
port = int(sys.argv[2]) if len(sys.argv) > 2 else 51423

spinsize = 10
spinpos = 0
spindir = 1


def spin():
    global spinsize, spinpos, spindir
    spinstr = '.' * spinpos + '|' + '.' * (spinsize - spinpos - 1)
    sys.stdout.write('\r' + spinstr + ' ')
    sys.stdout.flush()

    spinpos += spindir
    if spinpos < 0:
        spindir = 1
        spinpos = 1
    elif spinpos >= spinsize:
        spinpos -= 2
        spindir = -1


s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.connect((host, port))

p = select.poll()
p.register(s.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)

while 1:
    results = p.poll(50)
    if len(results):
        if results[0][1] == select.POLLIN:
            data = s.recv(4096)
            if not len(data):
                print("\rRemote end closed connection; exiting.")
                break
            # Only one item in here -- if there's anything, it's for me
            sys.stdout.write("\rReceived: " + data.decode('utf-8', 'replace'))
            sys.stdout.flush()
        else:
            print("\rProblem occurred; exiting.")
            sys.exit(0)
    spin()
