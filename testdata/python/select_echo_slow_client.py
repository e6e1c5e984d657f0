#!/usr/bin/env python3
"""The Python select tutorials' slow client (select_echo_slow_client.py), in
Python 3: sends two parts with pauses, then reads the echo back 16 bytes at a
time.

Usage: select_echo_slow_client.py [HOST [PORT [PAUSE]]]
(default localhost 10000; the tutorial waits 1 s after connecting and 1.5 s
after each part; PAUSE, in seconds, replaces both).
"""
import socket
import sys
import time

# Create a TCP/IP socket
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)

# Connect the socket to the port where the server is listening
server_address = (sys.argv[1] if len(sys.argv) > 1 else 'localhost',
                  int(sys.argv[2]) if len(sys.argv) > 2 else 10000)
wait, pause = 1, 1.5
if len(sys.argv) > 3:
    wait = pause = float(sys.argv[3])
print('connecting to {} port {}'.format(*server_address),
      file=sys.stderr)
sock.connect(server_address)

time.sleep(wait)

messages = [
    'Part one of the message.',
    'Part two of the message.',
]
amount_expected = len(''.join(messages))

try:

    # Send data
    for message in messages:
        data = message.encode()
        print('sending {!r}'.format(data), file=sys.stderr)
        sock.sendall(data)
        time.sleep(pause)

    # Look for the response
    amount_received = 0

    while amount_received < amount_expected:
        data = sock.recv(16)
        if not data:
            # The tutorial loops forever here; stop instead.
            sys.exit('server closed the connection early')
        amount_received += len(data)
        print('received {!r}'.format(data), file=sys.stderr)

finally:
    print('closing socket', file=sys.stderr)
    sock.close()
