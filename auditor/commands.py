"""Subcommands that collect, store and render: audit, check, report, doctor, demo.

Registered on the main parser by `register`; each handler returns an exit code.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add the collecting/reporting subcommands to the `auditor` parser."""
    del sub
