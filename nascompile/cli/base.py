"""What every command shares: the :class:`Command` protocol, usage errors, the parser class and
the argument helpers several commands use.

A command is a small class: ``name`` and ``help``, ``add_arguments(parser)`` (cheap: no torch,
no optional extras) and ``run(args) -> exit status``, which imports what it needs. Command
modules import this module, never the package ``nascompile.cli`` (which imports them).
"""
from __future__ import annotations

import argparse
import os

__all__ = ["Command", "UsageError", "NasArgumentParser", "positive", "add_overrides", "add_threads",
           "set_threads", "add_allow_imports", "imports_allowed", "ALLOW_IMPORTS_ENV", "say"]

ALLOW_IMPORTS_ENV = "NASCOMPILE_ALLOW_IMPORTS"


class UsageError(Exception):
    """Arguments that argparse accepts but that do not go together; reported like argparse's."""


class NasArgumentParser(argparse.ArgumentParser):
    """Usage errors: one line, then this (sub)command's help; exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n\n{self.format_help()}")


class Command:
    """One subcommand: ``add_arguments`` describes it, ``run`` does it and returns the exit
    status. A user mistake is raised (:class:`~nascompile.errors.NasError` or
    :class:`UsageError`), never printed here: ``nascompile.cli.main`` reports it."""

    name = ""
    help = ""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        pass

    def run(self, args: argparse.Namespace) -> int:
        raise NotImplementedError


def positive(name: str, value, allow_zero: bool = False) -> None:
    """A :class:`UsageError` unless ``value`` is None or > 0 (>= 0 with ``allow_zero``)."""
    if value is not None and (value < 0 or (value == 0 and not allow_zero)):
        raise UsageError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")


def add_overrides(parser, help: str = "override a parameter of the document (repeatable)") -> None:
    """``--set NAME=VALUE`` (repeatable), parsed by :func:`nascompile.compiler.parse_overrides`."""
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help=help)


def add_threads(parser) -> None:
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="torch CPU threads (default: 1: the small networks searched on CPU run fastest on "
                             "one thread, and several threads on a busy machine can be 100x slower)")


def set_threads(n: int) -> None:
    import torch

    positive("--threads", n)
    torch.set_num_threads(n)



def add_allow_imports(parser, what: str = "the space's imports:") -> None:
    """``--allow-imports``: the opt-in to import (and so run) user Python code."""
    parser.add_argument("--allow-imports", action="store_true",
                        help=f"import the Python code this command names ({what}); without it nothing of "
                             f"yours is imported (for scripts: {ALLOW_IMPORTS_ENV}=1)")


def imports_allowed(args) -> bool:
    """Whether this command line opted in to importing user code: ``--allow-imports``, or
    ``NASCOMPILE_ALLOW_IMPORTS`` set to 1, true, yes or on."""
    if getattr(args, "allow_imports", False):
        return True
    return os.environ.get(ALLOW_IMPORTS_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def say(text: str = "", **kwargs) -> None:
    """``print`` for text that may hold what files said (names, labels, errors): each line with
    its control characters escaped (:func:`~nascompile.errors.sanitize`)."""
    from ..errors import sanitize

    print("\n".join(sanitize(line) for line in str(text).split("\n")), **kwargs)
