"""The `wzcodec` command: a thin layer over importable functions.

Each command group lives in its own module with `register(subparsers)`; every handler returns an exit
code. A WzError (anything the user can cause) becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys

from wzcodec import __version__
from wzcodec.cli import codegen, demo, link, model, sweep
from wzcodec.core.errors import WzError

COMMAND_MODULES = (model, demo, codegen, link, sweep)  # in the order `wzcodec --help` lists them


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as a single line that says where help is, not a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="wzcodec", description="Zero-delay Wyner-Ziv codec: train, generate device code, stream and decode.")
    parser.add_argument("--version", action="version", version=f"wzcodec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=OneLineParser)
    for module in COMMAND_MODULES:
        module.register(sub)
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
