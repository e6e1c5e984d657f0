#!/usr/bin/env python3
"""The Python select tutorials' select() chat client, in Python 3: waits on
stdin and the socket at once, prints what arrives and a "<You>" prompt.

Usage: chat_client.py [HOST [PORT]]   (default 127.0.0.1 8002)

Changed from the tutorial only where it broke: at the end of stdin it stops
watching stdin (the tutorial sent empty strings in a busy loop).
"""
import select
import socket
import sys


def prompt():
    print('<You> ', end="")
    sys.stdout.flush()


if __name__ == "__main__":

    host = sys.argv[1] if len(sys.argv) > 1 else '127.0.0.1'
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 8002

    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)

    try:
        s.connect((host, port))
    except Exception as e:
        print('Unable to connect:', e)
        sys.exit()

    print('Connected to remote host. Start sending messages')
    prompt()
    rlist = [sys.stdin, s]
    while True:
        read_list, write_list, error_list = select.select(rlist, [], [])

        for sock in read_list:
            if sock == s:
                data = sock.recv(4096)
                if not data:
                    print('\nDisconnected from chat server')
                    sys.exit()
                else:
                    print(data.decode("utf-8", "replace"), end="")
                    prompt()

            else:
                msg = sys.stdin.readline()
                if not msg:
                    rlist.remove(sys.stdin)
                    continue
                s.send(msg.encode("utf-8"))
                prompt()
