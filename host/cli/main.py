"""The `wzcodec` command: a thin layer over importable functions.

Each command group lives in its own module with `register(subparsers)`; every handler returns an exit
code. A WzError (anything the user can cause) becomes one line on stderr and exit status 2. An OS error
nobody turned into a WzError (a disk that fills up, a file that vanishes) is one line too, exit status 2.
As a last resort, the exceptions that inputs nobody anticipated raise (overflow, recursion, memory,
floating point, a number that does not parse) are one line that names the command and asks for a bug
report, exit status 3; with WZCODEC_DEBUG=1 in the environment they propagate with their traceback.
"""

from __future__ import annotations

import argparse
import os
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


# what unanticipated bad input raises (ArithmeticError: overflow, floating point, division by zero); never
# KeyboardInterrupt or SystemExit
UNANTICIPATED = (ArithmeticError, RecursionError, MemoryError, ValueError)
DEBUG_ENV = "WZCODEC_DEBUG"


def debugging() -> bool:
    return os.environ.get(DEBUG_ENV, "") == "1"


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
    except OSError as exc:
        if debugging():
            raise
        where = f": {exc.filename}" if exc.filename else ""
        print(f"wzcodec {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except UNANTICIPATED as exc:
        if debugging():
            raise
        text = " ".join(str(exc).split())[:200] or "no message"
        print(f"wzcodec {args.command}: internal error ({exc.__class__.__name__}: {text}); likely a bug: please report it "
              f"with the command line (run with {DEBUG_ENV}=1 for the traceback)", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
