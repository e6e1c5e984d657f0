#!/usr/bin/env python3
"""Runs one of the tutorials' client programs over TLS, the program itself
unchanged: every TCP socket it makes is wrapped in TLS by Python's ssl
module, and runs the handshake when it connects, trusting the certificates
in CAFILE (and checking the server's name: the script's first argument, its
HOST, as the tutorials' clients take it; localhost without one).

Usage: tls_wrap.py CAFILE SCRIPT [ARGS...]
Example: tls_wrap.py cert.pem select_echo_multiclient.py 127.0.0.1 10000
"""
import runpy
import socket
import ssl
import sys

if len(sys.argv) < 3:
    sys.exit(__doc__)
cafile, script, args = sys.argv[1], sys.argv[2], sys.argv[3:]
context = ssl.create_default_context(cafile=cafile)
server_name = args[0] if args else 'localhost'
plain_socket = socket.socket


def tls_socket(family=socket.AF_INET, type=socket.SOCK_STREAM, *rest, **kwargs):
    sock = plain_socket(family, type, *rest, **kwargs)
    if type != socket.SOCK_STREAM:
        return sock
    return context.wrap_socket(sock, server_hostname=server_name)


socket.socket = tls_socket
sys.argv = [script] + args
runpy.run_path(script, run_name='__main__')
