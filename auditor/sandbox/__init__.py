"""A local GitHub REST API sandbox answering from a declarative world description.

It lets the auditor (and its tests, and `auditor demo`) run end to end with no network and no
token: `serve(load_world(path))` starts a server whose answers have GitHub's JSON shapes, status
codes and headers, including permission failures, rate limits and injected faults.
"""

from .server import FaultSpec, SandboxServer, serve, token_hash
from .spec import WorldError
from .world import DEMO_WORLD, World, load_world

DEMO_TOKEN = "sandbox-demo-token"  # noqa: S105 - a documented, non-secret sandbox credential

__all__ = ["DEMO_TOKEN", "DEMO_WORLD", "FaultSpec", "SandboxServer", "World", "WorldError", "load_world", "serve",
           "token_hash"]
