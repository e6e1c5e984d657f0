#!/usr/bin/env python3
"""The Python select tutorials' poll() echo server
(select_poll_echo_server.py), in Python 3.

Usage: poll_echo_server.py [HOST [PORT]]   (default localhost 10000;
PORT 0 picks a free port, printed in the "starting up" line).

Changed from the tutorial only where it crashed or leaked: a reset counts as a
close, the hang-up branch also drops the message queue, and the "closing"
line names the socket's own peer rather than the last accepted.
"""
import select
import socket
import sys
import queue

host = sys.argv[1] if len(sys.argv) > 1 else 'localhost'
port = int(sys.argv[2]) if len(sys.argv) > 2 else 10000

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

# Keep up with the queues of outgoing messages
message_queues = {}

# Peer addresses (socket:address), for the "closing" line
peers = {}

# Do not block forever (milliseconds)
TIMEOUT = 1000

# Commonly used flag sets
READ_ONLY = (
    select.POLLIN |
    select.POLLPRI |
    select.POLLHUP |
    select.POLLERR
)
READ_WRITE = READ_ONLY | select.POLLOUT

# Set up the poller
poller = select.poll()
poller.register(server, READ_ONLY)

# Map file descriptors to socket objects
fd_to_socket = {
    server.fileno(): server,
}


def close(s):
    # Stop listening for input on the connection
    poller.unregister(s)
    del fd_to_socket[s.fileno()]
    s.close()
    # Remove message queue
    message_queues.pop(s, None)
    peers.pop(s, None)


while True:

    # Wait for at least one of the sockets to be
    # ready for processing
    print('\nwaiting for the next event', file=sys.stderr, flush=True)
    events = poller.poll(TIMEOUT)

    for fd, flag in events:

        # Retrieve the actual socket from its file descriptor
        s = fd_to_socket[fd]

        # Handle inputs
        if flag & (select.POLLIN | select.POLLPRI):

            if s is server:
                # A readable socket is ready
                # to accept a connection
                connection, client_address = s.accept()
                print('new connection from', client_address,
                      file=sys.stderr, flush=True)
                connection.setblocking(0)
                fd_to_socket[connection.fileno()] = connection
                poller.register(connection, READ_ONLY)

                # Give the connection a queue for data to send
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
                    poller.modify(s, READ_WRITE)
                else:
                    # Interpret empty result as closed connection
                    print('closing', peers[s], 'after reading no data',
                          file=sys.stderr, flush=True)
                    close(s)
        elif flag & select.POLLHUP:
            # Client hung up
            print('closing', peers[s], '(HUP)',
                  file=sys.stderr, flush=True)
            close(s)
        elif flag & select.POLLOUT:
            # Socket is ready to send data,
            # if there is any to send.
            try:
                next_msg = message_queues[s].get_nowait()
            except queue.Empty:
                # No messages waiting so stop checking
                print('output queue for', peers[s], 'is empty',
                      file=sys.stderr, flush=True)
                poller.modify(s, READ_ONLY)
            else:
                print('sending {!r} to {}'.format(
                    next_msg, peers[s]), file=sys.stderr, flush=True,
                )
                s.send(next_msg)
        elif flag & select.POLLERR:
            print('handling exceptional condition for', peers[s],
                  file=sys.stderr, flush=True)
            close(s)
