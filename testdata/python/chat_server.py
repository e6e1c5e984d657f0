#!/usr/bin/env python3
"""The Python select tutorials' select() chat server, in Python 3: a message
from one member goes to every other member as "\r<('host', port)> message".

Usage: chat_server.py [HOST [PORT]]   (default 127.0.0.1 8002; PORT 0 picks
a free port, printed in the "started" line).

Changed from the tutorial only where it broke: an empty recv (the member left)
now closes the member instead of spinning, the "offline" notice names the
member who left (not the last one accepted) and ends with a newline, and a
failed send no longer edits the member list while looping over it.
"""
import select
import socket
import sys


def broadcast_data(sock, message):
    # Send message to every member but the server and sock
    message = message.encode("utf-8")
    for member in list(CONNECTION_LIST):
        if member != server_socket and member != sock:
            try:
                member.send(message)
            except OSError:
                # A broken member is closed and dropped
                member.close()
                CONNECTION_LIST.remove(member)


if __name__ == "__main__":
    CONNECTION_LIST = []
    PEERS = {}
    RECV_BUFFER = 4096
    HOST = sys.argv[1] if len(sys.argv) > 1 else '127.0.0.1'
    PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8002

    server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server_socket.bind((HOST, PORT))
    server_socket.listen(10)
    CONNECTION_LIST.append(server_socket)

    print("Chat server started on port " + str(server_socket.getsockname()[1]),
          flush=True)

    while True:
        read_sockets, write_sockets, error_sockets = select.select(CONNECTION_LIST, [], [])
        for sock in read_sockets:
            if sock not in CONNECTION_LIST:
                continue  # dropped by a broadcast above
            # New connection
            if sock == server_socket:
                sockfd, addr = server_socket.accept()
                CONNECTION_LIST.append(sockfd)
                PEERS[sockfd] = addr
                print("Client (%s, %s) connected" % addr, flush=True)
                broadcast_data(sockfd, "[%s:%s] entered room\n" % addr)

            else:
                addr = PEERS[sock]
                try:
                    data = sock.recv(RECV_BUFFER)
                except OSError:
                    data = b''
                if data:
                    broadcast_data(sock, "\r" + '<' + str(addr) + '> ' + data.decode("utf-8", "replace"))
                else:
                    broadcast_data(sock, "Client (%s, %s) is offline\n" % addr)
                    print("Client (%s, %s) is offline" % addr, flush=True)
                    sock.close()
                    CONNECTION_LIST.remove(sock)
                    del PEERS[sock]

    server_socket.close()
