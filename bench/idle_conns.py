#!/usr/bin/env python3
"""Open N connections to a Redis-speaking port, PING each one, then hold them idle.

Used by bench/run.sh to measure a proxy's memory per idle proxied connection.
Prints "READY ok=<n> failed=<m>" once every connection has answered (or failed),
then holds the sockets for --hold seconds (bounded) or until killed.
Only connects to 127.0.0.1.
"""

import argparse
import socket
import sys
import time


def open_and_ping(port: int, timeout: float) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(b"*1\r\n$4\r\nPING\r\n")
    reply = b""
    while not reply.endswith(b"\r\n"):
        chunk = sock.recv(64)
        if not chunk:
            raise ConnectionError("closed before +PONG")
        reply += chunk
    if reply != b"+PONG\r\n":
        raise ConnectionError(f"unexpected reply {reply!r}")
    return sock


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--hold", type=float, default=60.0, help="seconds to hold (upper bound)")
    parser.add_argument("--timeout", type=float, default=5.0, help="per-connection timeout")
    args = parser.parse_args()

    held = []
    failed = 0
    first_error = ""
    for _ in range(args.count):
        try:
            held.append(open_and_ping(args.port, args.timeout))
        except OSError as err:  # ConnectionError and socket.timeout are OSErrors
            failed += 1
            first_error = first_error or str(err)
    print(f"READY ok={len(held)} failed={failed}" + (f" first_error={first_error}" if failed else ""),
          flush=True)
    time.sleep(args.hold)
    for sock in held:
        sock.close()
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
