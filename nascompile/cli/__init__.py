"""The command line, and the only place errors are printed::

    nascompile build SPACE          validate a space, print its statistics, write a build directory
    nascompile fix SPACE ARCH       check an architecture, print the pruned network's size
    nascompile export-code ...      one architecture as standalone PyTorch source
    nascompile convert ...          DARTS genotype / NAS-Bench-201 string <-> architecture JSON
    nascompile ss-gen ...           record the search space of a hand-written model
    nascompile search ...           one-shot or multi-trial search, as --algo says (random / random-trials)
    nascompile retrain RUN/arch.json  train any run's architecture, score it on the test split
    nascompile trials RUN           list a multi-trial run's trials, export the best architectures
    nascompile rank RUN             how well a one-shot run ranks architectures (Kendall tau, ...)
    nascompile ui RUN               serve a live page of a search run
    nascompile report RUN           the same page as one self-contained HTML file
    nascompile zoo [NAME]           the shipped search spaces (zoo:NAME wherever a space is accepted)

One module per command group (:mod:`.build`, :mod:`.fixed`, :mod:`.interop`, :mod:`.search`
with :mod:`.multitrial`, :mod:`.retrain`, :mod:`.trials`, :mod:`.ui`), each a list
``COMMANDS`` of :class:`~.base.Command` s; they import :mod:`.base` (and :mod:`.runs`), never
this package. :mod:`.worker` is the multi-trial worker's ``python -m`` entry point.

Making the parser must stay cheap (``nascompile build`` imports no torch): commands import
what they need in ``run``. A user mistake is a :class:`~nascompile.errors.NasError`, printed as
one line per error with exit status 2 (``--debug`` shows the traceback instead). A usage
mistake (a bad option, or options that do not go together: :class:`UsageError`) prints one
line and the subcommand's help, exit status 2. Progress and notes of the library come through
:mod:`logging`: :func:`main` shows ``nascompile``'s INFO records on stdout (WARNING and up
under ``-q``).

User code runs only when the command line asks: ``--allow-imports`` (or
``NASCOMPILE_ALLOW_IMPORTS=1`` for scripts) on ``build``, ``fix``, ``export-code``, ``convert``,
``search`` and ``retrain`` lets them import a space's ``imports:``, ``--algo module:Class`` and
``--data module:function`` (also when a run folder recorded them); ``trials``, ``ui`` and
``report`` never import user code. Text from files is printed with its control characters
escaped. A document that exhausts the interpreter anyway (recursion, memory) is one line too.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from ..errors import NasError
from . import build, fixed, interop, rank, retrain, search, trials, ui, zoo
from .base import Command, NasArgumentParser, UsageError

__all__ = ["main", "make_parser", "COMMANDS", "Command", "UsageError"]

COMMANDS: list[Command] = [*build.COMMANDS, *fixed.COMMANDS, *interop.COMMANDS, *search.COMMANDS,
                           *retrain.COMMANDS, *rank.COMMANDS, *trials.COMMANDS, *ui.COMMANDS, *zoo.COMMANDS]


def all_commands() -> list[Command]:
    """:data:`COMMANDS`, one per name (one class listed twice is one command; two classes of one
    name are a bug)."""
    commands: dict[str, Command] = {}
    for command in COMMANDS:
        known = commands.setdefault(command.name, command)
        if type(known) is not type(command):
            raise ValueError(f"two commands named '{command.name}': {type(known).__name__} "
                             f"and {type(command).__name__}")
    return list(commands.values())


def make_parser() -> argparse.ArgumentParser:
    from .. import __version__

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
    from .. import logs

    parser = make_parser()
    args = parser.parse_args(argv)
    logs.console(logging.WARNING if getattr(args, "quiet", False) else logging.INFO, force=True)
    try:
        return args.handler.run(args)
    except UsageError as err:
        args._parser.error(str(err))
    except NasError as err:
        if getattr(args, "debug", False):
            raise
        print(str(err), file=sys.stderr)
        return 2
    except (RecursionError, MemoryError) as err:  # past every limit: still one line, no traceback
        if getattr(args, "debug", False):
            raise
        what = "nested too deeply" if isinstance(err, RecursionError) else "out of memory"
        print(f"nascompile {args.command}: error: the input is {what} to process", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
