"""Where the Jupyter server is that runs this kernel: its runtime information and the base URL of its
pages (the proxy's prefix on a JupyterHub or Binder)."""

from __future__ import annotations

import json
import os
import re


__all__ = ["jupyter_base_url", "jupyter_server_info"]


# --- where is the Jupyter server ----------------------------------------------------------------------------

def _runtime_dir() -> str | None:
    try:
        from jupyter_core.paths import jupyter_runtime_dir
    except ImportError:  # pragma: no cover - jupyter_core comes with ipykernel
        return None
    return jupyter_runtime_dir()


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, TypeError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _read_info(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            info = json.load(f)
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and _alive(info.get("pid")) else None


def jupyter_server_info() -> dict | None:
    """The running Jupyter server this kernel belongs to (``url``, ``base_url``, ``port``, ...), or None.

    A kernel started by a Jupyter server gets the server's process id as ``JPY_PARENT_PID``, and the server
    describes itself in ``jpserver-PID.json`` in the Jupyter runtime directory. With no ``JPY_PARENT_PID`` (a
    plain Python process) the only running server is taken, if there is exactly one.
    """
    runtime = _runtime_dir()
    if not runtime or not os.path.isdir(runtime):
        return None
    parent = os.environ.get("JPY_PARENT_PID")
    if parent:
        return _read_info(os.path.join(runtime, f"jpserver-{parent}.json"))
    infos = [info for name in sorted(os.listdir(runtime)) if re.fullmatch(r"jpserver-\d+\.json", name)
             for info in [_read_info(os.path.join(runtime, name))] if info is not None]
    return infos[0] if len(infos) == 1 else None


def with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def jupyter_base_url() -> str:
    """The path under which the learner's browser reaches the Jupyter server, ending in ``/``.

    ``JUPYTERHUB_SERVICE_PREFIX`` on a JupyterHub or Binder (``/user/NAME/``), else the ``base_url`` of this
    kernel's Jupyter server (see :func:`jupyter_server_info`), else ``/``.
    """
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if prefix:
        return with_slash(prefix if prefix.startswith("/") else "/" + prefix)
    info = jupyter_server_info()
    base = (info or {}).get("base_url") or "/"
    return with_slash(base if base.startswith("/") else "/" + base)
