"""TOML config text for l4lb, built from Python dicts."""

from __future__ import annotations

import json


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string for everything the tests use
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        return "[ " + ", ".join(_toml_value(x) for x in v) + " ]"
    raise TypeError(type(v))


def config_toml(listeners: list[dict], pools: dict[str, dict], global_: dict | None = None) -> str:
    """TOML text for l4lb. Defaults keep tests quick: 2 workers, shutdown_grace 2s."""
    g = {"workers": 2, "log_level": "info", "shutdown_grace": "2s"}
    g.update(global_ or {})
    out = ["[global]"]
    out += [f"{k} = {_toml_value(v)}" for k, v in g.items()]
    for listener in listeners:
        out += ["", "[[listener]]"]
        out += [f"{k} = {_toml_value(v)}" for k, v in listener.items()]
    for name, pool in pools.items():
        out += ["", f"[pool.{name}]"]
        out += [f"{k} = {_toml_value(v)}" for k, v in pool.items()]
    return "\n".join(out) + "\n"


def simple_config(listen: str, backends: list, balance: str = "round-robin",
                  global_: dict | None = None, listener: dict | None = None,
                  pool: dict | None = None) -> str:
    """One listener "front" -> pool "back". `backends` are URLs or {address, weight, ...}."""
    lst = {"name": "front", "bind": listen, "pool": "back"}
    lst.update(listener or {})
    p = {"balance": balance, "connect_timeout": "2s", "retries": 2,
         "backends": [b if isinstance(b, dict) else {"address": b} for b in backends]}
    p.update(pool or {})
    return config_toml([lst], {"back": p}, global_)
