"""The https check against real TLS servers with certificates the test makes with openssl: a
CA, a server certificate it signed, an expired one, and one from another CA. Only the first is
up; the others are down with OpenSSL's reason; the verified certificate's end shows in the API,
the metric and (inside expiry_warning) a warning in the log."""

from __future__ import annotations

import http.server
import json
import ssl
import subprocess
import threading

from harness import free_port, simple_config, tcp_url
from health import wait_state


def openssl(*args: str, cwd) -> None:
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def make_ca(d, name: str) -> None:
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
            f"{name}.pem", "-subj", f"/CN={name}", "-days", "30", cwd=d)


def make_cert(d, name: str, ca: str, days: int) -> None:
    (d / f"{name}.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
            f"{name}.csr", "-subj", "/CN=localhost", cwd=d)
    # days -1: notAfter a day before notBefore, an expired certificate.
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-days", str(days), "-extfile", f"{name}.ext", "-out",
            f"{name}.pem", cwd=d)


class Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def tls_server(d, name: str):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Quiet)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(d / f"{name}.pem", d / f"{name}.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_https_check_verifies_chain_dates_and_name(l4lb, workdir):
    make_ca(workdir, "ca")
    make_ca(workdir, "other-ca")
    make_cert(workdir, "good", "ca", 10)
    make_cert(workdir, "expired", "ca", -1)
    make_cert(workdir, "stranger", "other-ca", 10)
    servers = {name: tls_server(workdir, name) for name in ("good", "expired", "stranger")}
    try:
        listen = tcp_url(free_port())
        sock = workdir / "admin.sock"
        backends = [{"address": tcp_url(s.server_address[1]), "name": n}
                    for n, s in servers.items()]
        health = {"check": "https", "ca_file": str(workdir / "ca.pem"), "host": "localhost",
                  "path": "/healthz", "interval": "300ms", "rise": 1, "fall": 1,
                  "expiry_warning": "30d"}
        config = simple_config(listen, backends, pool={"health": health})
        config += f'\n[admin]\nlisten = ["unix://{sock}"]\n'
        proc = l4lb(config, ready=[listen])
        assert wait_state(proc, "good", "up", 15) is not None, proc.describe()
        assert wait_state(proc, "expired", "down", 15) is not None, proc.describe()
        assert wait_state(proc, "stranger", "down", 15) is not None, proc.describe()
        log = proc.stderr()
        assert "certificate has expired" in log, log
        assert "unable to get local issuer certificate" in log, log
        assert proc.wait_log(r'backend good: its TLS certificate expires in (9|10) days'), log

        api = subprocess.run(["curl", "-sS", "--unix-socket", str(sock),
                              "http://l4lb/api/v1/pools/back"],
                             capture_output=True, text=True, timeout=10)
        good = [b for b in json.loads(api.stdout)["backends"] if b["name"] == "good"][0]
        assert good["last_check"]["result"] == "ok", good
        # 10 days from when openssl signed it, less the seconds since.
        assert good["last_check"]["certificate_days_left"] in (9, 10), good
        metrics = subprocess.run(["curl", "-sS", "--unix-socket", str(sock),
                                  "http://l4lb/metrics"],
                                 capture_output=True, text=True, timeout=10).stdout
        expiry = [ln for ln in metrics.splitlines()
                  if ln.startswith("l4lb_backend_certificate_expiry_seconds{")]
        assert len(expiry) == 1 and 'backend="good"' in expiry[0], expiry
    finally:
        for s in servers.values():
            s.shutdown()
