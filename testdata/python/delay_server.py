#!/usr/bin/env python3
"""The Python select tutorials' delaying server (delayserver.py), in Python 3:
serves one client at a time, sending it the time (time.asctime()) every
INTERVAL seconds until the client goes away.

Usage: delay_server.py [HOST [PORT [INTERVAL]]]   (default '' 51423 5;
PORT 0 picks a free port, printed in the "listening" line, which the tutorial
does not have).
"""
import socket
import sys
import time
import traceback

host = sys.argv[1] if len(sys.argv) > 1 else ''  # Bind to all interfaces
port = int(sys.argv[2]) if len(sys.argv) > 2 else 51423
interval = float(sys.argv[3]) if len(sys.argv) > 3 else 5

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port))
s.listen(1)
print('listening on {} port {}'.format(*s.getsockname()), flush=True)

while 1:
    try:
        clientsock, clientaddr = s.accept()
    except KeyboardInterrupt:
        raise
    except Exception:
        traceback.print_exc()
        continue

    # Process the connection
    try:
        print("Got Connection from", clientsock.getpeername(), flush=True)
        while 1:
            try:
                clientsock.sendall((time.asctime() + "\n").encode())
            except OSError:
                break
            time.sleep(interval)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception:
        traceback.print_exc()

    # Close the connection
    try:
        clientsock.close()
    except KeyboardInterrupt:
        raise
    except Exception:
        traceback.print_exc()
