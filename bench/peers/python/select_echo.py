"""The Python select tutorials' select echo server (PyMOTW "select"), in
Python 3.

Same loop: non-blocking sockets, a queue per connection, write interest only
while the queue holds data, close on EOF or an exceptional condition. The
prints are gone (they would measure the terminal) and recv reads 64 KiB
instead of 1 KiB, so large messages are not penalised by the read size.

    python3 select_echo.py 127.0.0.1:7000
"""
import queue
import select
import socket
import sys


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.setblocking(False)
    server.bind((host, int(port)))
    server.listen(1024)
    inputs = [server]
    outputs = []
    message_queues = {}

    def drop(s):
        if s in outputs:
            outputs.remove(s)
        inputs.remove(s)
        s.close()
        del message_queues[s]

    while inputs:
        readable, writable, exceptional = select.select(inputs, outputs, inputs)
        for s in readable:
            if s is server:
                connection, _ = s.accept()
                connection.setblocking(False)
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                inputs.append(connection)
                message_queues[connection] = queue.Queue()
                continue
            if s not in message_queues:
                continue
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if data:
                message_queues[s].put(data)
                if s not in outputs:
                    outputs.append(s)
            else:
                drop(s)
        for s in writable:
            if s not in message_queues:
                continue
            try:
                next_msg = message_queues[s].get_nowait()
            except queue.Empty:
                outputs.remove(s)
            else:
                try:
                    sent = s.send(next_msg)
                except OSError:
                    drop(s)
                    continue
                if sent < len(next_msg):
                    # The tutorial's server drops the unsent rest; an echo must not.
                    rest = queue.Queue()
                    rest.put(next_msg[sent:])
                    while not message_queues[s].empty():
                        rest.put(message_queues[s].get_nowait())
                    message_queues[s] = rest
        for s in exceptional:
            if s in message_queues:
                drop(s)


if __name__ == "__main__":
    main()
