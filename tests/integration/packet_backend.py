"""A backend host of the packet-path tests: answers with its own name, on every address it holds
(its own, and the VIP on lo): HTTP/1.1 with keep-alive on port 80 (GET /name, GET /big: 4 MiB),
and one datagram back per datagram on port 53. IPv4 and IPv6 (dual-stack sockets).
Run as `python3 packet_backend.py NAME`; stops on SIGTERM."""

from __future__ import annotations

import http.server
import signal
import socket
import sys
import threading

NAME = sys.argv[1].encode()
BIG = b"x" * (4 << 20)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (the library's name)
        body = BIG if self.path == "/big" else NAME
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class DualStack(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    request_queue_size = 1024

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def serve_udp() -> None:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", 53))
    while True:
        _, peer = s.recvfrom(2048)
        s.sendto(NAME, peer)


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    threading.Thread(target=serve_udp, daemon=True).start()
    DualStack(("::", 80), Handler).serve_forever()


if __name__ == "__main__":
    main()
