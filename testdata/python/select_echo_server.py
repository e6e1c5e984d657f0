#!/usr/bin/env python3
"""The Python select tutorials' select() echo server (select_echo_server.py)
and, given a TIMEOUT, the same server with a timeout
(select_echo_server_timeout.py), in Python 3: an idle select() then returns
after TIMEOUT seconds and prints "timed out, do some other work here".

Usage: select_echo_server.py [HOST [PORT [TIMEOUT]]]   (default localhost
10000, no timeout; PORT 0 picks a free port, printed in the "starting up"
line).

Changed from the tutorial only where it crashed: a socket closed while reading
is skipped in the writable and exceptional loops, a reset counts as a close,
and the "closing" line names the socket's own peer rather than the last
accepted.
"""
import select
import socket
import sys
import queue

host = sys.argv[1] if len(sys.argv) > 1 else 'localhost'
port = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else None

# Create a TCP/IP socket
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.setblocking(0)

# Bind the socket to the port
server.bind((host, port))

# Listen for incoming connections
server.listen(5)
print('starting up on {} port {}'.format(*server.getsockname()),
      file=sys.stderr, flush=True)

# Sockets from which we expect to read
inputs = [server]

# Sockets to which we expect to write
outputs = []

# Outgoing message queues (socket:Queue)
message_queues = {}

# Peer addresses (socket:address), for the "closing" line
peers = {}


def close(s):
    # Stop listening for input on the connection
    if s in outputs:
        outputs.remove(s)
    inputs.remove(s)
    s.close()
    # Remove message queue
    del message_queues[s]
    del peers[s]


while inputs:

    # Wait for at least one of the sockets to be
    # ready for processing
    print('\nwaiting for the next event', file=sys.stderr, flush=True)
    readable, writable, exceptional = select.select(inputs,
                                                    outputs,
                                                    inputs,
                                                    timeout)

    if not (readable or writable or exceptional):
        print('  timed out, do some other work here',
              file=sys.stderr, flush=True)
        continue

    # Handle inputs
    for s in readable:

        if s is server:
            # A "readable" socket is ready to accept a connection
            connection, client_address = s.accept()
            print('new connection from', client_address,
                  file=sys.stderr, flush=True)
            connection.setblocking(0)
            inputs.append(connection)

            # Give the connection a queue for data
            # we want to send
            message_queues[connection] = queue.Queue()
            peers[connection] = client_address
        else:
            try:
                data = s.recv(1024)
            except ConnectionError:
                data = b''
            if data:
                # A readable client socket has data
                print('received {!r} from {}'.format(
                    data, peers[s]), file=sys.stderr, flush=True,
                )
                message_queues[s].put(data)
                # Add output channel for response
                if s not in outputs:
                    outputs.append(s)
            else:
                # Interpret empty result as closed connection
                print('closing', peers[s], 'after reading no data',
                      file=sys.stderr, flush=True)
                close(s)

    # Handle outputs
    for s in writable:
        if s not in message_queues:
            continue  # closed above
        try:
            next_msg = message_queues[s].get_nowait()
        except queue.Empty:
            # No messages waiting so stop checking
            # for writability.
            print('output queue for', peers[s], 'is empty',
                  file=sys.stderr, flush=True)
            outputs.remove(s)
        else:
            print('sending {!r} to {}'.format(next_msg, peers[s]),
                  file=sys.stderr, flush=True)
            s.send(next_msg)

    # Handle "exceptional conditions"
    for s in exceptional:
        if s not in message_queues:
            continue  # closed above
        print('handling exceptional condition for', peers[s],
              file=sys.stderr, flush=True)
        close(s)
