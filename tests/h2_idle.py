#!/usr/bin/env python3
"""An HTTP/2 client (prior knowledge, cleartext) that sends one request, then stays
connected doing nothing but answering the server's pings: what a server without an
idle timeout holds for ever.

usage: h2_idle.py HOST PORT SECONDS

Prints one JSON line: the server's SETTINGS_MAX_CONCURRENT_STREAMS, the request's
status, the pings answered, whether the server sent GOAWAY and closed the connection,
and after how many seconds of idleness. Bounded: gives up after SECONDS.
"""

import json
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings


def main():
    host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    sock = socket.create_connection((host, port))
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    stream = conn.get_next_available_stream_id()
    conn.send_headers(stream, [(":method", "GET"), (":path", "/v2/"), (":scheme", "http"),
                               (":authority", f"{host}:{port}")], end_stream=True)
    sock.sendall(conn.data_to_send())
    report = {"max_concurrent_streams": None, "status": None, "pings": 0,
              "goaway": False, "closed": False, "idle_seconds": None}
    idle_from = None
    deadline = time.monotonic() + seconds
    sock.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        if not data:
            report["closed"] = True
            break
        if report["goaway"]:
            continue  # after GOAWAY, only wait for the server to close
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            # hyper follows its GOAWAY with a PING in the same write; h2 refuses a
            # frame after GOAWAY, having closed the connection on it.
            if conn.state_machine.state == h2.connection.ConnectionState.CLOSED:
                report["goaway"] = True
                continue
            raise
        for event in events:
            if isinstance(event, h2.events.RemoteSettingsChanged):
                for setting, change in event.changed_settings.items():
                    if setting == h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS:
                        report["max_concurrent_streams"] = change.new_value
            elif isinstance(event, h2.events.ResponseReceived):
                report["status"] = int(dict(event.headers)[b":status"])
            elif isinstance(event, h2.events.DataReceived):
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                idle_from = time.monotonic()
            elif isinstance(event, h2.events.PingReceived):
                report["pings"] += 1  # h2 queues the ACK itself
            elif isinstance(event, h2.events.ConnectionTerminated):
                report["goaway"] = True
        out = conn.data_to_send()
        if out:
            try:
                sock.sendall(out)
            except OSError:
                report["closed"] = True
                break
    if idle_from is not None and (report["goaway"] or report["closed"]):
        report["idle_seconds"] = round(time.monotonic() - idle_from, 2)
    sock.close()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
