"""`python -m auditor.sandbox --world FILE --port N`: run the sandbox in the foreground."""

from __future__ import annotations

import argparse
import sys
import threading

from .server import serve
from .spec import WorldError
from .world import DEMO_WORLD, load_world


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m auditor.sandbox",
                                     description="Serve GitHub's REST API from a sandbox world description.")
    parser.add_argument("--world", default=str(DEMO_WORLD), help="world file (YAML or JSON); default: the demo")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (0 picks a free one; default 8765)")
    parser.add_argument("--week", type=int, default=None, help="serve the world as of this timeline week")
    parser.add_argument("--latency-ms", type=int, default=0, help="delay every answer by this many ms")
    args = parser.parse_args(argv)
    try:
        world = load_world(args.world)
        if args.week is not None:
            world = world.at_week(args.week)
    except WorldError as exc:
        print(exc, file=sys.stderr)  # noqa: T201 - command-line output
        return 2
    server = serve(world, args.host, args.port)
    if args.latency_ms:
        server.set_latency(args.latency_ms)
    print(f"GitHub sandbox on {server.url} (week {world.week} of {world.weeks}); Ctrl-C stops it.")  # noqa: T201
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
