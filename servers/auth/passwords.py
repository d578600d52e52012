"""Passwords stored as they should be: salted scrypt hashes, checked in constant time.

Promises:

* :func:`hash_password` turns a password (bytes) into one line of text, ``scrypt$N$r$p$SALT$HASH`` (salt and
  hash in base64), with a fresh 16-byte salt from :mod:`secrets` each time, so two users with the same password
  get different lines. The cost parameters travel inside the line: raising them later leaves old lines working.
* :func:`verify_password` says whether a password matches such a line, comparing with
  :func:`hmac.compare_digest` (its time does not depend on where the first differing byte is). A line that is
  not one of ours, or parameters beyond :data:`MOST_MEMORY`, never match and never raise.
* :data:`UNKNOWN_USER` is a valid line no password matches cheaply: checking an unknown user against it costs
  the same hash as a known one, so timing does not tell which of user and password was wrong.

The cost, :data:`COST` (N=2**14, r=8, p=1: 16 MiB and some 60 ms per check on a laptop), is the interactive
login setting from scrypt's paper: slow enough that a stolen table yields a few thousand guesses a second per
core instead of billions, fast enough for a login. These calls block: servers run them off the reactor
(:mod:`servers.auth.worker`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["COST", "MOST_MEMORY", "UNKNOWN_USER", "hash_password", "verify_password"]

COST = (2**14, 8, 1)
"""scrypt's N (CPU and memory), r (block size) and p (parallelism) for new hashes."""

MOST_MEMORY = 64 * 2**20
"""A stored line asking scrypt for more memory than this is refused rather than computed."""

_SALT_BYTES = 16
_HASH_BYTES = 32


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=MOST_MEMORY + 2**20, dklen=_HASH_BYTES)


def hash_password(password: bytes, cost: tuple[int, int, int] = COST) -> str:
    """A storable line for ``password``: ``scrypt$N$r$p$SALT$HASH``, with a fresh random salt."""
    if not isinstance(password, bytes):
        raise TypeError(f"hash bytes, not {type(password).__name__}: encode text first, e.g. "
                        "password.encode('utf-8')")
    n, r, p = cost
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, n, r, p)
    return "$".join(["scrypt", str(n), str(r), str(p), base64.b64encode(salt).decode("ascii"),
                     base64.b64encode(digest).decode("ascii")])


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = stored.split("$") if isinstance(stored, str) else []
    if len(parts) != 6 or parts[0] != "scrypt":
        return None
    try:
        n, r, p = (int(part) for part in parts[1:4])
        salt, digest = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except ValueError:
        return None
    if n < 2 or n & (n - 1) or r < 1 or p < 1 or 128 * n * r > MOST_MEMORY or p > 16 or not digest:
        return None
    return n, r, p, salt, digest


def verify_password(password: bytes, stored: str) -> bool:
    """Whether ``password`` hashes to ``stored`` (compared in constant time); False for a malformed line."""
    parsed = _parse(stored)
    if parsed is None or not isinstance(password, bytes):
        return False
    n, r, p, salt, digest = parsed
    return hmac.compare_digest(_scrypt(password, salt, n, r, p), digest)


UNKNOWN_USER = hash_password(secrets.token_bytes(32))
