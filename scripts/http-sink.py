#!/usr/bin/env python3
"""An HTTP/1.1 server that reads each request's body (Content-Length) into one
reused 1 MiB buffer and answers 201: what receiving an upload over loopback
costs without hashing or storing it. scripts/bench-registry.sh measures `curl -T`
against it as the transport's limit. Prints its port, then serves until killed."""
import socket

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(8)
print(srv.getsockname()[1], flush=True)
buf = memoryview(bytearray(1 << 20))
while True:
    conn, _ = srv.accept()
    with conn:
        head = b""
        while b"\r\n\r\n" not in head:
            more = conn.recv(65536)
            if not more:
                break
            head += more
        head, _, rest = head.partition(b"\r\n\r\n")
        fields = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip()
        if fields.get(b"expect", b"").lower() == b"100-continue":
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        left = int(fields.get(b"content-length", b"0")) - len(rest)
        while left > 0:
            got = conn.recv_into(buf, min(len(buf), left))
            if not got:
                break
            left -= got
        conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
