"""The `wzcodec` command: a thin layer over importable functions.

Each command group lives in its own module with `register(subparsers)`; every handler returns an exit
code. A WzError (anything the user can cause) becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .errors import WzError

COMMAND_MODULES = ["host.commands_model", "host.commands_demo"]
OPTIONAL_COMMAND_MODULES = ["codegen.commands", "host.commands_link", "host.commands_sweep"]


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as a single line that says where help is, not a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="wzcodec", description="Zero-delay Wyner-Ziv codec: train, generate device code, stream and decode.")
    parser.add_argument("--version", action="version", version=f"wzcodec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=OneLineParser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    for name in OPTIONAL_COMMAND_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a module that exists but fails to import is a bug, not optional
                raise
            continue
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except WzError as exc:
        print(f"wzcodec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"wzcodec {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
