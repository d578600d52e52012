"""Run one practice server on its own: ``python -m servers NAME [--port N] [--host 127.0.0.1]``.

Real clients (nc, telnet, curl, a browser, a mail client) can then talk to it. Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import sys

import servers


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m servers", description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", help="the practice server to run (omit to list them)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    parser.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1", "::1", "localhost"],
                        help="loopback address to listen on (default: 127.0.0.1)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    if args.name is None:
        for entry in sorted(servers.REGISTRY.values(), key=lambda e: e.name):
            print(f"{entry.name:12} {entry.summary}")
        return 0
    if args.name not in servers.REGISTRY:
        print(f"no practice server named {args.name!r}; run `python -m servers` for the list", file=sys.stderr)
        return 2
    thing = servers.build(args.name)
    host = "127.0.0.1" if args.host == "localhost" else args.host

    from twisted.internet import defer, task

    def run(reactor):
        listeners = servers.listen(reactor, thing, host=host, port=args.port)
        ports = ", ".join(str(listener.getHost().port) for listener in listeners)
        print(f"{args.name} listening on {host} port {ports}; Ctrl-C stops it", flush=True)
        return defer.Deferred()  # serve until interrupted

    try:
        task.react(run)
    except SystemExit as done:
        return done.code or 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
