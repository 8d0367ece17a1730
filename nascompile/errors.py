"""One exception family for everything a user can get wrong.

Every error carries where it happened: file, line, column (1-based) and the document path
(``network/nodes/cell3``), plus an optional hint. ``str(err)`` renders the one line the CLI
prints: ``space.yaml:12:9: unknown op 'conw' (did you mean 'conv'?) [at network/nodes/stem]``.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence


@dataclass(frozen=True)
class Loc:
    """A place in a source document. Any field may be unknown (None)."""

    file: str | None = None
    line: int | None = None
    col: int | None = None
    path: str | None = None
    # For text inside a scalar that spans lines: ((offset in the value, line, col), ...)
    segments: tuple = field(default=(), compare=False, repr=False)

    def prefix(self) -> str:
        parts = [self.file or "<space>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)

    def at_offset(self, offset: int) -> "Loc":
        """The location of character ``offset`` of the scalar's value (needs ``segments``)."""
        seg = None
        for start, line, col in self.segments:
            if start <= offset:
                seg = (start, line, col)
        if seg is None:
            return self
        return replace(self, line=seg[1], col=seg[2] + offset - seg[0], segments=())

    def shifted(self, dline: int, col: int) -> "Loc":
        """The location ``dline`` lines below, at column ``col`` (1-based): for text inside a scalar."""
        if self.line is None:
            return self
        return replace(self, line=self.line + dline, col=col)


class NasError(Exception):
    """Root of every error nascompile reports to users."""

    def __init__(self, message: str, loc: Loc | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.loc = loc or Loc()
        self.hint = hint

    def at(self, loc: Loc) -> "NasError":
        """Fill in the location if this error does not know it yet."""
        if self.loc.line is None and self.loc.path is None:
            self.loc = loc
        elif self.loc.file is None and loc.file is not None:
            self.loc = replace(self.loc, file=loc.file)
        return self

    def __str__(self) -> str:
        text = f"{self.loc.prefix()}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        if self.loc.path:
            text += f" [at {self.loc.path}]"
        return text


class SpaceError(NasError):
    """A mistake in a space document: syntax, schema, names, types, shapes."""


class StatsError(SpaceError):
    """A valid space whose decisions interact too much for exact statistics in bounded time."""


class ArchError(NasError):
    """A fixed-architecture JSON that does not fit its space."""


class DataError(NasError):
    """A dataset that is missing or malformed."""


class CheckpointError(NasError):
    """A checkpoint that is corrupt or belongs to another space."""


class ErrorGroup(NasError):
    """Several independent errors of one document, reported together."""

    def __init__(self, errors: Sequence[NasError]):
        self.errors = sorted(errors, key=_sort_key)
        super().__init__(f"{len(self.errors)} errors", self.errors[0].loc if self.errors else None)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


def _sort_key(err: NasError):
    return (err.loc.file or "", err.loc.line or 0, err.loc.col or 0, err.message)


def raise_all(errors: Iterable[NasError]) -> None:
    """Raise nothing, the one error, or an ErrorGroup of all of them."""
    errors = list(_dedupe(errors))
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ErrorGroup(errors)


def _dedupe(errors: Iterable[NasError]):
    seen = set()
    for err in errors:
        for e in err.errors if isinstance(err, ErrorGroup) else [err]:
            if str(e) not in seen:
                seen.add(str(e))
                yield e


def did_you_mean(name: str, options: Iterable[str]) -> str | None:
    """A hint naming the closest option, or None when nothing is close."""
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def read_user_file(path, error: type[NasError], what: str) -> str:
    """The text of a file the user named; a missing or unreadable one is ``error`` (one line)."""
    from pathlib import Path

    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error("no such file", Loc(str(path)), hint=f"check the path of the {what}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise error(f"cannot read the {what}: {err}", Loc(str(path))) from None
