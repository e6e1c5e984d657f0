"""The Python select tutorials' echo server on Python's selectors module
(epoll on Linux).

The same loop as select_echo.py, but the kernel keeps the interest set:
register on accept, modify to add write interest only while output is
queued, unregister on close. Replies are sent at once when nothing is
queued, as the iomux loop does.

    python3 selectors_echo.py 127.0.0.1:7000
"""
import selectors
import socket
import sys


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    sel = selectors.DefaultSelector()
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.setblocking(False)
    server.bind((host, int(port)))
    server.listen(4096)
    sel.register(server, selectors.EVENT_READ, None)
    pending = {}

    def close(s):
        sel.unregister(s)
        pending.pop(s, None)
        s.close()

    while True:
        for key, events in sel.select():
            s = key.fileobj
            if s is server:
                try:
                    while True:
                        c, _ = server.accept()
                        c.setblocking(False)
                        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        sel.register(c, selectors.EVENT_READ, None)
                except BlockingIOError:
                    pass
                continue
            if events & selectors.EVENT_WRITE:
                out = pending[s]
                try:
                    sent = s.send(out)
                except OSError:
                    close(s)
                    continue
                if sent == len(out):
                    del pending[s]
                    sel.modify(s, selectors.EVENT_READ)
                else:
                    pending[s] = out[sent:]
            if events & selectors.EVENT_READ:
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    close(s)
                    continue
                if s in pending:
                    pending[s] += data
                    continue
                try:
                    sent = s.send(data)
                except BlockingIOError:
                    sent = 0
                except OSError:
                    close(s)
                    continue
                if sent < len(data):
                    pending[s] = data[sent:]
                    sel.modify(s, selectors.EVENT_READ | selectors.EVENT_WRITE)


if __name__ == "__main__":
    main()
