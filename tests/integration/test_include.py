"""`include = ["conf.d/*.toml"]`: listeners and pools from other files, errors that name the
included file and line, and a reload that reads conf.d again (a new file starts its listener; a
broken one changes nothing)."""

from __future__ import annotations

import re
import signal

from harness import ask_name, free_port, run_l4lb, tcp_url


def service(name: str, listen: str, backend: str) -> str:
    return (f'[[listener]]\nname = "{name}"\nbind = "{listen}"\npool = "{name}"\n\n'
            f'[pool.{name}]\nbackends = [{{ address = "{backend}", name = "{name}-1" }}]\n')


def test_check_names_the_included_file_and_line(workdir):
    (workdir / "conf.d").mkdir()
    main = workdir / "l4lb.toml"
    main.write_text('include = ["conf.d/*.toml"]\n\n' +
                    service("main", tcp_url(free_port()), tcp_url(free_port())))
    web = workdir / "conf.d" / "web.toml"
    web.write_text(f'[pool.web]\nbalance = "fastest"\nbackends = [{{ address = '
                   f'"{tcp_url(free_port())}" }}]\n')
    r = run_l4lb(["check", "-c", str(main)])
    assert r.returncode == 1, r
    assert re.search(rf"^{re.escape(str(web))}:2:\d+: pool\.web\.balance: invalid value",
                     r.stderr, re.M), r.stderr


def test_included_listeners_serve_and_reload_reads_conf_d_again(l4lb, workdir, servers):
    (workdir / "conf.d").mkdir()
    a = servers(tcp_url(free_port()), name="a")
    b = servers(tcp_url(free_port()), name="b")
    listen_a, listen_b = tcp_url(free_port()), tcp_url(free_port())
    main = workdir / "l4lb.toml"
    main.write_text('include = ["conf.d/*.toml"]\n[global]\nworkers = 1\n')
    (workdir / "conf.d" / "a.toml").write_text(service("sa", listen_a, a.url))
    proc = l4lb(args=["-c", str(main)], ready=[listen_a])
    assert ask_name(listen_a) == "a"

    (workdir / "conf.d" / "b.toml").write_text(service("sb", listen_b, b.url))
    proc.proc.send_signal(signal.SIGHUP)
    assert proc.wait_log(r"reloaded "), proc.describe()
    assert ask_name(listen_b) == "b"

    # A broken included file: the reload fails, naming it, and both listeners keep serving.
    bad = workdir / "conf.d" / "c.toml"
    bad.write_text("[pool.sc]\nbackends = \n")
    proc.proc.send_signal(signal.SIGHUP)
    assert proc.wait_log(re.escape(str(bad)) + r":2:"), proc.describe()
    assert ask_name(listen_a) == "a" and ask_name(listen_b) == "b"
