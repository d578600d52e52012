"""Run one practice server on its own, for real clients (nc, telnet, curl, a browser, a mail client).

``python -m servers NAME [--port N] [--host 127.0.0.1] [--tls] [--limit KEY=VALUE ...]``; without NAME it lists
the servers. Ctrl-C stops it. It prints, one per line: ``NAME listening on HOST port PORT; Ctrl-C stops it``,
then ``account: USER PASSWORD`` for each practice account the server knows, then, with ``--tls``, ``ca: PATH``:
the practice authority's certificate, for the client to verify the server with (``curl --cacert PATH``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from servers import catalogue


def _limit(text: str) -> tuple[str, float | int]:
    """``KEY=VALUE`` for a field of ``servers.abuse_guard.Limits``, VALUE of that field's type."""
    from servers.abuse_guard import Limits

    key, equals, value = text.partition("=")
    defaults = Limits()
    names = [f.name for f in dataclasses.fields(Limits)]
    if not equals or key not in names:
        raise argparse.ArgumentTypeError(f"{text!r}: give KEY=VALUE with KEY one of {', '.join(names)}")
    kind = type(getattr(defaults, key))
    try:
        return key, kind(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: {key} takes {'a whole number' if kind is int else 'a number'}"
                                         ) from None


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m servers", description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", help="the practice server to run (omit to list them)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="loopback address to listen on: 127.0.0.1 (default), ::1 or localhost")
    parser.add_argument("--tls", action="store_true",
                        help="serve over TLS with the practice certificate (servers that speak TLS)")
    parser.add_argument("--limit", type=_limit, action="append", default=[], metavar="KEY=VALUE",
                        help="set one of the server's limits for this run, e.g. --limit idle_timeout=30 "
                             "(max_connections, idle_timeout, request_timeout, max_buffered); repeatable")
    return parser.parse_args(argv)


def _refuse(message: str) -> int:
    print(message, file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    if args.name is None:
        for entry in sorted(catalogue.CATALOGUE.values(), key=lambda e: e.name):
            print(f"{entry.name:12} {entry.summary}{'  (--tls)' if entry.tls else ''}")
        return 0
    if args.name not in catalogue.CATALOGUE:
        return _refuse(f"no practice server named {args.name!r}; run `python -m servers` for the list")
    entry = catalogue.CATALOGUE[args.name]
    if args.tls and not entry.tls:
        return _refuse(f"the practice server {args.name!r} does not speak TLS; run it without --tls")
    from servers.listening import plan
    from servers.loopback import NotLoopback

    try:
        limits = entry.make_limits(**dict(args.limit))
        served = plan(args.name, host=args.host, port=args.port, limits=limits,
                      tls=entry.tls_options() if args.tls else None)
    except (NotLoopback, ValueError) as refused:
        return _refuse(str(refused))

    from twisted.internet import defer, task

    def run(reactor):
        listeners = served.listen(reactor)
        ports = ", ".join(str(listener.getHost().port) for listener in listeners)
        print(f"{args.name} listening on {served.host} port {ports}; Ctrl-C stops it", flush=True)
        for account in served.accounts():
            print(account.line(), flush=True)
        for detail in served.details():  # what a real client must know beyond the address: an SSH host key
            print(detail, flush=True)
        if served.tls is not None:
            from servers.tls import ca_path

            print(f"ca: {ca_path()}", flush=True)
        return defer.Deferred()  # serve until interrupted

    try:
        task.react(run)
    except SystemExit as done:
        return done.code or 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
