"""Command line: ``nascompile build | fix | export-code | convert | ss-gen``. The only place
errors are printed.

Each command is a small class with ``add_arguments`` and ``run``; a user mistake is a
:class:`~nascompile.errors.NasError`, printed as one line per error with exit status 2
(``--debug`` shows the traceback instead). A usage mistake (a bad option, or options that do
not go together: :class:`UsageError`) prints one line and the subcommand's help, exit status 2.
Commands live in this module and in ``commands_*.py`` modules (imported when the parser is
made, which must stay cheap: commands import what they need in ``run``).
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .errors import NasError


class UsageError(Exception):
    """Arguments that argparse accepts but that do not go together; reported like argparse's."""


class NasArgumentParser(argparse.ArgumentParser):
    """Usage errors: one line, then this (sub)command's help; exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n\n{self.format_help()}")


class Command:
    name = ""
    help = ""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        pass

    def run(self, args: argparse.Namespace) -> int:
        raise NotImplementedError


class Build(Command):
    name = "build"
    help = "validate a space, print its statistics and write a build directory"

    def add_arguments(self, parser):
        parser.add_argument("space", help="space document (.yaml, .yml or .json)")
        parser.add_argument("-o", "--output", default="build", help="build directory (default: ./build)")
        parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                            help="override a parameter of the document (repeatable)")
        parser.add_argument("--check", action="store_true", help="validate only; write nothing")
        parser.add_argument("--arch", metavar="ARCH.json",
                            help="also print the parameters and FLOPs of this fixed architecture")

    def run(self, args):
        from .build import build, format_summary
        from .compiler import load_space, parse_overrides

        space = load_space(args.space, parse_overrides(args.set))
        summary = build(space, None if args.check else args.output, arch=args.arch)
        print(format_summary(summary))
        if args.check:
            print("ok: the space is valid (nothing written)")
        else:
            print(f"wrote {args.output}/")
        return 0


COMMANDS: list[Command] = [Build()]


def all_commands() -> list[Command]:
    """This module's commands, then those of the ``commands_*`` modules (they import
    :class:`Command` from here, hence the late import)."""
    from .commands_fixed import COMMANDS as FIXED
    from .commands_interop import COMMANDS as INTEROP
    from .commands_search import COMMANDS as SEARCH
    from .commands_trials import COMMANDS as TRIALS
    from .commands_ui import COMMANDS as UI

    commands: dict[str, Command] = {}
    for command in [*COMMANDS, *FIXED, *INTEROP, *SEARCH, *TRIALS, *UI]:
        known = commands.setdefault(command.name, command)
        if type(known) is not type(command):  # one class listed twice is one command
            raise ValueError(f"two commands named '{command.name}': {type(known).__name__} "
                             f"and {type(command).__name__}")
    return list(commands.values())


def make_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = NasArgumentParser(prog="nascompile", description="Compile neural architecture search spaces.")
    parser.add_argument("--version", action="version", version=f"nascompile {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for command in all_commands():
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        p.add_argument("--debug", action="store_true", help="show the traceback of an error")
        command.add_arguments(p)
        p.set_defaults(handler=command, _parser=p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler.run(args)
    except UsageError as err:
        args._parser.error(str(err))
    except NasError as err:
        if getattr(args, "debug", False):
            raise
        print(str(err), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
