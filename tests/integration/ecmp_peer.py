#!/usr/bin/env python3
"""The two ends of test_scale_out.py's traffic, run inside the namespaces the test makes.

    ecmp_peer.py serve NAME ADDRESS PORT
        A backend: greets each connection with "NAME PEER\\n" (PEER is the address the connection
        came from, i.e. which l4lb instance carried it), then echoes every line.

    ecmp_peer.py drive JSON
        A client: long-lived connections (one per source address and `long_per_source`), each
        sending a numbered line every `ping_interval` s and checking its echo, plus a stream of
        short new connections (one every `new_interval` s, from the sources in turn), for
        `duration` s. Prints one JSON object: every connection's instance, backend, start and
        how it ended (null: still fine at the end; "reset", "eof", "timeout", "corrupt", or the
        error's name), with times from CLOCK_MONOTONIC, which the test's process shares.

Standard library only; every socket operation has a timeout and the run stops by itself.
"""

from __future__ import annotations

import errno
import json
import socket
import socketserver
import sys
import threading
import time


def serve(name: str, address: str, port: int) -> None:
    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            self.request.settimeout(120)
            try:
                self.wfile.write(f"{name} {self.client_address[0]}\n".encode())
                for line in self.rfile:
                    self.wfile.write(line)
            except OSError:
                pass

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True
        request_queue_size = 512

    with Server((address, port), Handler) as server:
        print("serving", flush=True)
        server.serve_forever()


def _ending(exc: BaseException) -> str:
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(exc, OSError) and exc.errno is not None:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return type(exc).__name__


class Driver:
    def __init__(self, spec: dict):
        self.vip = spec["vip"]
        self.port = spec["port"]
        self.sources = spec["sources"]
        self.long_per_source = spec.get("long_per_source", 1)
        self.duration = spec["duration"]
        self.ping_interval = spec.get("ping_interval", 0.2)
        self.new_interval = spec.get("new_interval", 0.05)
        self.timeout = spec.get("timeout", 2.0)
        self.stop = threading.Event()
        self.long: list[dict] = []
        self.new: list[dict] = []

    def connect(self, source: str) -> tuple[socket.socket, dict]:
        record = {"src": source, "sport": None, "instance": None, "backend": None,
                  "start": time.monotonic(), "end": None, "end_at": None}
        sock = socket.create_connection((self.vip, self.port), timeout=self.timeout,
                                        source_address=(source, 0))
        record["sport"] = sock.getsockname()[1]
        return sock, record

    @staticmethod
    def greeting(reader, record: dict) -> None:
        line = reader.readline()
        if not line:
            raise EOFError
        record["backend"], record["instance"] = line.decode().split()

    def run_long(self, source: str) -> None:
        record = {"src": source, "start": time.monotonic(), "end": None, "end_at": None,
                  "pings": 0}
        self.long.append(record)
        try:
            sock, opened = self.connect(source)
            record.update(opened)
            with sock, sock.makefile("rb") as reader:
                self.greeting(reader, record)
                n = 0
                while not self.stop.wait(self.ping_interval):
                    line = f"ping {source} {n}\n".encode()
                    sock.sendall(line)
                    echo = reader.readline()
                    if not echo:
                        raise EOFError
                    if echo != line:
                        record["end"] = "corrupt"
                        break
                    n += 1
                    record["pings"] = n
        except EOFError:
            record["end"] = "eof"
        except Exception as exc:  # noqa: BLE001: every ending is recorded, none escapes
            record["end"] = _ending(exc)
        if record["end"] is not None:
            record["end_at"] = time.monotonic()

    def run_new(self) -> None:
        i = 0
        while not self.stop.is_set():
            source = self.sources[i % len(self.sources)]
            i += 1
            record = {"src": source, "start": time.monotonic(), "end": None}
            try:
                sock, opened = self.connect(source)
                record.update(opened)
                with sock, sock.makefile("rb") as reader:
                    self.greeting(reader, record)
            except EOFError:
                record["end"] = "eof"
            except Exception as exc:  # noqa: BLE001
                record["end"] = _ending(exc)
            record["end_at"] = time.monotonic()
            self.new.append(record)
            self.stop.wait(self.new_interval)

    def run(self) -> dict:
        threads = [threading.Thread(target=self.run_long, args=(source,))
                   for source in self.sources for _ in range(self.long_per_source)]
        if self.new_interval is not None:
            threads.append(threading.Thread(target=self.run_new))
        started = time.monotonic()
        for thread in threads:
            thread.start()
        self.stop.wait(self.duration)
        self.stop.set()
        for thread in threads:
            thread.join(self.timeout * 3 + self.ping_interval + 5)
        return {"started": started, "stopped": time.monotonic(), "long": self.long,
                "new": self.new}


def main() -> int:
    if sys.argv[1:2] == ["serve"] and len(sys.argv) == 5:
        serve(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return 0
    if sys.argv[1:2] == ["drive"] and len(sys.argv) == 3:
        print(json.dumps(Driver(json.loads(sys.argv[2])).run()), flush=True)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
