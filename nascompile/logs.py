"""Progress and notes go through :mod:`logging` (library code never prints).

Everything logs under the ``nascompile`` logger. :func:`console` attaches one handler that
writes bare messages to the *current* ``sys.stdout`` (resolved at each record, so redirections
and pytest's capture see them); the command line calls it, and so do trainers built with
``verbose=True``, as NNI's trainers print progress without set-up. An application that wants
the records elsewhere gives the ``nascompile`` logger a handler of its own first: then
:func:`console` leaves it alone.
"""
from __future__ import annotations

import logging
import sys

__all__ = ["get_logger", "console", "progress_bar"]

ROOT = "nascompile"


def get_logger(name: str) -> logging.Logger:
    """The logger of module ``name`` (``__name__``), under the ``nascompile`` logger."""
    return logging.getLogger(name if name.startswith(ROOT) else f"{ROOT}.{name}")


class _Stdout(logging.StreamHandler):
    """A handler on whatever ``sys.stdout`` is when a record is written."""

    def __init__(self):
        super().__init__()
        self.setFormatter(logging.Formatter("%(message)s"))

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):  # StreamHandler.__init__ assigns it; we always write to sys.stdout
        pass

    def emit(self, record):
        super().emit(record)
        self.flush()


def console(level: int = logging.INFO, force: bool = False) -> None:
    """Show ``nascompile``'s records of ``level`` and above on stdout, once. Without ``force``,
    nothing changes when the ``nascompile`` logger has a handler already (ours, or the
    application's); ``force`` sets the level of ours (the command line's ``--quiet``)."""
    logger = logging.getLogger(ROOT)
    ours = [h for h in logger.handlers if isinstance(h, _Stdout)]
    if ours:
        if force:
            logger.setLevel(level)
        return
    if logger.handlers and not force:
        return
    logger.addHandler(_Stdout())
    logger.setLevel(level)
    logger.propagate = False


def progress_bar(fraction: float, width: int = 20) -> str:
    """``[#####---------------]`` for ``fraction`` done."""
    done = int(round(max(0.0, min(1.0, fraction)) * width))
    return "[" + "#" * done + "-" * (width - done) + "]"
