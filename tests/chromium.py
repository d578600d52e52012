"""Find and drive headless Chromium for the browser tests.

``find_chromium()`` gives the binary (``$CHROMIUM`` first, then the usual names) or None; ``dump_dom(url)`` loads
a page the way a browser does (scripts, stylesheets, cookies) and returns the DOM after the page has loaded.
Each run gets its own process group, killed when the run ends, so no renderer or helper process outlives it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--no-default-browser-check",
         "--disable-dev-shm-usage")


class ChromiumError(RuntimeError):
    """Chromium failed or ran past its time limit."""


def find_chromium() -> str | None:
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:  # pragma: no cover
        pass


def dump_dom(url: str, *, timeout: float = 30, user_data_dir: str | None = None, binary: str | None = None) -> str:
    """Load ``url`` in headless Chromium and return the serialized DOM once the page has loaded.

    ``user_data_dir`` keeps the browser profile (cookies) between runs; by default each run gets a fresh one.
    """
    binary = binary or find_chromium()
    if binary is None:
        raise ChromiumError("no Chromium binary found")
    with tempfile.TemporaryDirectory(prefix="chromium-") as scratch:
        profile = user_data_dir or os.path.join(scratch, "profile")
        command = [binary, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            raise ChromiumError(f"Chromium did not finish loading {url} within {timeout:g} s") from None
        finally:
            _kill_group(process)
    if process.returncode != 0:
        tail = err.decode("utf-8", "replace")[-2000:]
        raise ChromiumError(f"Chromium exited with {process.returncode} loading {url}:\n{tail}")
    return out.decode("utf-8", "replace")
