"""One exception family for everything a user can get wrong.

Every error carries where it happened: file, line, column (1-based) and the document path
(``network/nodes/cell3``), plus an optional hint. ``str(err)`` renders the one line the CLI
prints: ``space.yaml:12:9: unknown op 'conw' (did you mean 'conv'?) [at network/nodes/stem]``.
"""
from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence

MAX_SHOWN_ERRORS = 20  # an ErrorGroup prints this many, then how many more there are
MAX_LINE = 1_000  # characters of one error line; longer ones are cut in the middle
IMPORTS_OPT_IN = ("pass --allow-imports (or set NASCOMPILE_ALLOW_IMPORTS=1) if you trust it: "
                  "importing runs the module's code")


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
        parts = [sanitize(self.file) if self.file else "<space>"]
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
        """One line, safe for a terminal: text from files (labels, names, values) has its control
        characters escaped (:func:`sanitize`) and a very long line is cut (:data:`MAX_LINE`)."""
        text = f"{self.loc.prefix()}: {sanitize(self.message)}"
        if self.hint:
            text += f" ({sanitize(self.hint)})"
        if self.loc.path:
            text += f" [at {sanitize(self.loc.path)}]"
        return clip(text, MAX_LINE)


class SpaceError(NasError):
    """A mistake in a space document: syntax, schema, names, types, shapes."""


class LimitError(SpaceError):
    """A document that asks for more than a documented limit allows for the whole space (its
    nodes, its evaluations): compiling stops at the first one instead of reporting every node."""


class StatsError(SpaceError):
    """A valid space whose decisions interact too much for exact statistics in bounded time."""


class ArchError(NasError):
    """A fixed-architecture JSON that does not fit its space."""


class DataError(NasError):
    """A dataset that is missing or malformed."""


class CheckpointError(NasError):
    """A checkpoint that is corrupt or belongs to another space."""


class ErrorGroup(NasError):
    """Several independent errors of one document, reported together: one line each, the first
    :data:`MAX_SHOWN_ERRORS` of them (in document order), then one line counting the rest."""

    def __init__(self, errors: Sequence[NasError]):
        self.errors = sorted(errors, key=_sort_key)
        super().__init__(f"{len(self.errors)} errors", self.errors[0].loc if self.errors else None)

    def __str__(self) -> str:
        lines = [str(e) for e in self.errors[:MAX_SHOWN_ERRORS]]
        rest = len(self.errors) - MAX_SHOWN_ERRORS
        if rest > 0:
            lines.append(f"{self.errors[0].loc.prefix().split(':')[0]}: ... and {rest:,} more errors "
                         f"(the first {MAX_SHOWN_ERRORS} are shown; fix them first)")
        return "\n".join(lines)


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


MAX_SUGGEST = 2_000  # options a did-you-mean compares (difflib is quadratic in name length)


def did_you_mean(name: str, options: Iterable[str]) -> str | None:
    """A hint naming the closest option, or None when nothing is close.

    Bounded: names over 100 characters get no hint, and of many options only those of a
    similar length, at most :data:`MAX_SUGGEST`, are compared (4,000 misspelt nodes of one
    document must not take minutes)."""
    name = str(name)
    if len(name) > 100:
        return None
    pool = []
    for o in options:
        o = str(o)
        if abs(len(o) - len(name)) <= max(3, len(name) // 2):
            pool.append(o)
            if len(pool) >= MAX_SUGGEST:
                break
    close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


_BIDI = {0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF}


def sanitize(text) -> str:
    """``text`` safe to print on a terminal, on one line: control characters (ANSI escapes,
    NUL, carriage returns, newlines, C1 controls, bidirectional overrides) become visible
    escapes such as ``\\x1b``; everything else is kept."""
    text = str(text)
    if text.isprintable():
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if ch.isprintable() and code not in _BIDI:
            out.append(ch)
        elif ch == " ":
            out.append(ch)
        elif unicodedata.category(ch) in ("Zs",) and code not in _BIDI:
            out.append(" ")
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


def count(n: int) -> str:
    """A count for a message: ``1,234,567``, or ``about 10^42`` when it has over 18 digits."""
    n = int(n)
    return f"{n:,}" if abs(n) < 10 ** 18 else f"about {'-' if n < 0 else ''}10^{len(str(abs(n))) - 1}"


def clip(text: str, limit: int = 80) -> str:
    """``text`` cut to about ``limit`` characters, keeping its start and end."""
    text = str(text)
    if len(text) <= limit:
        return text
    keep = max(limit - 5, 2)
    return f"{text[:keep * 2 // 3]} ... {text[-(keep - keep * 2 // 3):]}"


MAX_FILE_BYTES = 20_000_000  # a space document, an architecture, a run record: read with this cap


def read_user_file(path, error: type[NasError], what: str, max_bytes: int = MAX_FILE_BYTES) -> str:
    """The text of a file the user named, read with a cap: a missing, unreadable, special
    (device, pipe, socket, folder) or larger file is ``error`` (one line), and nothing of its
    content is quoted."""
    data = read_user_bytes(path, error, what, max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise error(f"the {what} is not UTF-8 text (byte {err.start + 1})", Loc(str(path))) from None


def read_user_bytes(path, error: type[NasError], what: str, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; anything else is one ``error``."""
    import os
    import stat

    where = Loc(str(path))
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise error("no such file", where, hint=f"check the path of the {what}") from None
    except (OSError, ValueError) as err:
        raise error(f"cannot read the {what}: {getattr(err, 'strerror', None) or err}", where) from None
    if stat.S_ISDIR(info.st_mode):
        raise error(f"the {what} is a folder, not a file", where)
    if not stat.S_ISREG(info.st_mode):
        raise error(f"the {what} is not a regular file (a device, pipe or socket); refused", where)
    if info.st_size > max_bytes:
        raise error(f"the {what} is too large ({info.st_size:,} bytes, at most {max_bytes:,})", where)
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as err:
        raise error(f"cannot read the {what}: {err.strerror or err}", where) from None
    if len(data) > max_bytes:  # it grew since stat
        raise error(f"the {what} is too large (over {max_bytes:,} bytes)", where)
    return data


MAX_JSON_DEPTH = 64  # nesting of JSON the user or a run folder hands us
MAX_JSON_DIGITS = 1_000  # digits of one integer in JSON


class DuplicateKey(ValueError):
    """A JSON object names a key twice (``args[0]``: the key)."""


def strict_object(pairs):
    """``json.loads``'s ``object_pairs_hook`` that refuses a key given twice."""
    out = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


def bounded_int(text: str) -> int:
    """``json.loads``'s ``parse_int`` that refuses integers over :data:`MAX_JSON_DIGITS` digits."""
    if len(text.lstrip("-")) > MAX_JSON_DIGITS:
        raise _TooBig(f"an integer of {len(text):,} digits (at most {MAX_JSON_DIGITS:,})")
    return int(text)


class _TooBig(ValueError):
    pass


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def parse_json(text: str, error: type[NasError], file: str, what: str = "JSON", allow_nan: bool = False,
               max_depth: int = MAX_JSON_DEPTH):
    """Strict JSON of a file: duplicate keys, integers over :data:`MAX_JSON_DIGITS` digits,
    nesting deeper than ``max_depth`` (and NaN/Infinity unless ``allow_nan``) are one ``error``
    line naming the file, never a traceback or a silent overwrite."""
    import json

    try:
        data = json.loads(text, object_pairs_hook=strict_object, parse_int=bounded_int,
                          **({} if allow_nan else {"parse_constant": _reject_constant}))
    except json.JSONDecodeError as err:
        raise error(f"invalid {what}: {err.msg}", Loc(file, err.lineno, err.colno)) from None
    except DuplicateKey as dup:
        raise error(f"invalid {what}: duplicate key {clip(repr(dup.args[0]), 60)}", Loc(file),
                    hint="each key may appear once in an object") from None
    except RecursionError:
        raise error(f"invalid {what}: nested too deeply (at most {max_depth} levels)", Loc(file)) from None
    except ValueError as err:  # _TooBig, NaN, Python's own int limit
        raise error(f"invalid {what}: {clip(str(err), 120)}", Loc(file)) from None
    if json_depth(data, max_depth) > max_depth:
        raise error(f"invalid {what}: nested too deeply (at most {max_depth} levels)", Loc(file))
    return data


def json_depth(data, limit: int) -> int:
    """How deeply lists and dicts nest in ``data`` (iterative; stops counting past ``limit``)."""
    deepest, stack = 0, [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (list, dict)):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
            stack.extend((v, depth) for v in (value.values() if isinstance(value, dict) else value))
    return deepest


def read_json_file(path, error: type[NasError], what: str, max_bytes: int = MAX_FILE_BYTES,
                   allow_nan: bool = False, max_depth: int = MAX_JSON_DEPTH):
    """:func:`read_user_file` then :func:`parse_json`."""
    return parse_json(read_user_file(path, error, what, max_bytes), error, str(path), what, allow_nan, max_depth)
