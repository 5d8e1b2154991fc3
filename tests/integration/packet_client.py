"""The client host of the packet-path tests (run inside its namespace):
  names HOST N [PORT]     N new TCP connections to HOST:80, GET /name on each: JSON list of names
                          (from source ports PORT, PORT + 1, ... when given)
  udp HOST N              N datagrams to HOST:53, each from a new socket: JSON list of names
  hold HOST N STOP OUT    N keep-alive connections to HOST:80, one GET /name on each every 0.2 s
                          until the file STOP exists (at most 120 s); writes OUT (JSON): per
                          connection the backend it first named, the requests answered, and
                          its first error (a reset, a timeout, another backend answering);
                          OUT.round holds the number of rounds done so far.
HOST is an IPv4 or IPv6 address."""

from __future__ import annotations

import http.client
import json
import os
import socket
import sys
import time


def get_name(conn: http.client.HTTPConnection) -> str:
    conn.request("GET", "/name")
    response = conn.getresponse()
    return response.read().decode()


def names(host: str, n: int, first_port: int = 0) -> list[str]:
    out = []
    for i in range(n):
        source = ("", first_port + i) if first_port else None
        conn = http.client.HTTPConnection(host, 80, timeout=5, source_address=source)
        try:
            out.append(get_name(conn))
        except OSError as e:
            out.append(f"error: {e}")
        finally:
            conn.close()
    return out


def udp(host: str, n: int) -> list[str]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    out = []
    for _ in range(n):
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.settimeout(3)
            try:
                s.sendto(b"name?", (host, 53))
                out.append(s.recv(2048).decode())
            except OSError as e:
                out.append(f"error: {e}")
    return out


def hold(host: str, n: int, stop: str, out_path: str) -> None:
    conns = []
    for _ in range(n):
        conn = http.client.HTTPConnection(host, 80, timeout=5)
        entry = {"backend": None, "answered": 0, "error": None}
        try:
            entry["backend"] = get_name(conn)
            entry["answered"] = 1
        except OSError as e:
            entry["error"] = f"first request: {e!r}"
        conns.append((conn, entry))
    # Whole or not at all: the test reads it as soon as it exists.
    with open(out_path + ".ready.tmp", "w") as f:
        json.dump([e for _, e in conns], f)
    os.replace(out_path + ".ready.tmp", out_path + ".ready")
    deadline = time.monotonic() + 120
    rounds = 0
    while not os.path.exists(stop) and time.monotonic() < deadline:
        for conn, entry in conns:
            if entry["error"] is not None:
                continue
            try:
                name = get_name(conn)
            except (OSError, http.client.HTTPException) as e:
                entry["error"] = repr(e)
                continue
            if name != entry["backend"]:
                entry["error"] = f"answered by {name}, not {entry['backend']}"
            else:
                entry["answered"] += 1
        rounds += 1
        with open(out_path + ".round.tmp", "w") as f:
            f.write(str(rounds))
        os.replace(out_path + ".round.tmp", out_path + ".round")
        time.sleep(0.2)
    with open(out_path, "w") as f:
        json.dump([e for _, e in conns], f)


def main() -> None:
    mode, host = sys.argv[1], sys.argv[2]
    if mode == "names":
        first_port = int(sys.argv[4]) if len(sys.argv) > 4 else 0
        print(json.dumps(names(host, int(sys.argv[3]), first_port)))
    elif mode == "udp":
        print(json.dumps(udp(host, int(sys.argv[3]))))
    elif mode == "hold":
        hold(host, int(sys.argv[3]), sys.argv[4], sys.argv[5])


if __name__ == "__main__":
    main()
