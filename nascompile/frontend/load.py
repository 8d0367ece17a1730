"""Read a space document (YAML or JSON) into plain data plus the source position of every value.

YAML goes through ``yaml.compose`` with the safe loader (nodes carry marks); JSON through
``json.loads`` (its own syntax and number rules) with positions taken from the same text
composed as YAML. Duplicate keys are errors, never silently overwritten.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from ..errors import DuplicateKey, Loc, SpaceError, bounded_int, clip, json_depth, raise_all, read_user_file, strict_object
from ..resources import data_file

_MAX_NODES = 25_000  # values of a document with its aliases expanded (alias bombs; the schema check is slow)
MAX_NESTING = 50  # mappings and lists inside one another (a real space needs fewer than 10)
# libyaml's parser when PyYAML has it (the same safe loader, about 10x faster)
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Document:
    """Plain data of a document and where each part of it was written."""

    data: Any
    file: str
    marks: dict = field(default_factory=dict)  # path tuple -> (line, col) of the value
    key_marks: dict = field(default_factory=dict)  # path tuple -> (line, col) of its key
    text: str = ""
    segments: dict = field(default_factory=dict)  # path -> Loc segments of multi-line scalars

    def text_loc(self, path: tuple) -> Loc:
        """The location of a scalar's first character, able to place any offset in its value."""
        loc = self.loc(path)
        segs = self.segments.get(tuple(path))
        if segs:
            return Loc(loc.file, segs[0][1], segs[0][2], loc.path, segs)
        return loc

    def loc(self, path: tuple, key: bool = False) -> Loc:
        table = self.key_marks if key else self.marks
        probe = tuple(path)
        while probe not in table and probe:
            probe = probe[:-1]
        line, col = table.get(probe, (None, None))
        return Loc(self.file, line, col, "/".join(str(p) for p in path) or None)


def load_text(text: str, file: str = "<space>", fmt: str | None = None) -> Document:
    """Parse ``text``; ``fmt`` is 'json' or 'yaml' (default: guessed from the file name)."""
    fmt = fmt or ("json" if file.endswith(".json") else "yaml")
    if len(text) > MAX_CHARS:
        raise SpaceError(f"document too large ({len(text):,} characters, at most {MAX_CHARS:,})", Loc(file))
    if fmt == "json":
        try:
            data = json.loads(text, object_pairs_hook=strict_object, parse_int=bounded_int)
        except json.JSONDecodeError as err:
            raise SpaceError(f"invalid JSON: {err.msg}", Loc(file, err.lineno, err.colno)) from None
        except DuplicateKey as dup:
            doc = Document(None, file, text=text)
            try:  # the YAML pass knows where the duplicate is
                _Marks(doc, None).walk(yaml.compose(text, Loader=yaml.SafeLoader), ())
            except SpaceError as err:
                raise err from None
            except Exception:
                pass
            raise SpaceError(f"duplicate key '{dup.args[0]}'", Loc(file)) from None
        except RecursionError:
            raise SpaceError(f"invalid JSON: nested too deeply (at most {MAX_NESTING} levels)", Loc(file)) from None
        except ValueError as err:
            raise SpaceError(f"invalid JSON: {clip(_short(err), 120)}", Loc(file)) from None
        if json_depth(data, MAX_NESTING) > MAX_NESTING:
            raise SpaceError(f"the document is nested too deeply (at most {MAX_NESTING} levels)", Loc(file))
        if _count_values(data, _MAX_NODES) > _MAX_NODES:
            raise SpaceError(f"document too large (over {_MAX_NODES:,} values)", Loc(file))
        doc = Document(data, file, text=text)
        try:
            _Marks(doc, None).walk(yaml.compose(text, Loader=_COMPOSER), ())
        except Exception:
            pass  # positions are a courtesy for JSON; its data is already parsed
        return doc
    _check_nesting(text, file)
    try:
        try:
            root = yaml.compose(text, Loader=_COMPOSER)
        except yaml.YAMLError:
            if _COMPOSER is yaml.SafeLoader or len(text) > _REPARSE_CHARS:
                raise
            root = yaml.compose(text, Loader=yaml.SafeLoader)  # its messages say more (but it is slow)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise SpaceError(f"invalid YAML: {err.problem or err.context}",
                         Loc(file, mark.line + 1 if mark else None, mark.column + 1 if mark else None)) from None
    except yaml.reader.ReaderError as err:
        line = text.count("\n", 0, err.position) + 1
        col = err.position - (text.rfind("\n", 0, err.position) + 1) + 1
        raise SpaceError(f"invalid YAML: unacceptable character #x{err.character:04x}: "
                         "control characters are not allowed", Loc(file, line, col)) from None
    except yaml.YAMLError as err:
        raise SpaceError(f"invalid YAML: {_short(err)}", Loc(file)) from None
    except RecursionError:
        raise SpaceError("invalid YAML: nested too deeply", Loc(file)) from None
    doc = Document(None, file, text=text)
    try:
        doc.data = _Marks(doc, yaml.constructor.SafeConstructor()).walk(root, ())
    except RecursionError:
        raise SpaceError("document nested too deeply", Loc(file)) from None
    return doc


MAX_CHARS = 20_000_000
_REPARSE_CHARS = 1_000_000  # a YAML error is re-read by the (slower, clearer) pure-Python parser up to this size


def _check_nesting(text: str, file: str) -> None:
    """Refuse YAML nested deeper than :data:`MAX_NESTING`, or of more than :data:`_MAX_NODES`
    nodes, before composing it: composing recurses (libyaml's composer in C: a few hundred
    thousand ``[`` crash the process) and builds every node.

    The text is read as a stream of parser events (iterative, in C) up to the first place too
    deep or too many. A syntax error is left to the composer, which reports it where it is."""
    depth = nodes = 0
    try:
        for event in yaml.parse(text, Loader=_COMPOSER):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_NESTING:
                    mark = event.start_mark
                    raise SpaceError(f"the document is nested too deeply (more than {MAX_NESTING} levels of "
                                     "mappings and lists)", Loc(file, mark.line + 1, mark.column + 1))
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
                continue
            elif not isinstance(event, yaml.ScalarEvent):
                continue
            nodes += 1
            if nodes > _MAX_NODES:
                raise SpaceError(f"document too large (over {_MAX_NODES:,} values)", Loc(file))
    except yaml.YAMLError:
        return


def _count_values(data, limit: int) -> int:
    """Values in ``data`` (mappings, lists and scalars), counting stops past ``limit``."""
    n, stack = 0, [data]
    while stack and n <= limit:
        value = stack.pop()
        n += 1
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return n


def _short(err) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def load_file(path: str | Path) -> Document:
    return load_text(read_user_file(path, SpaceError, "space document"), str(path))


class _Marks:
    """Walks composed YAML nodes, recording marks; builds plain data when given a constructor."""

    def __init__(self, doc: Document, constructor):
        self.doc, self.constructor, self.count, self.active = doc, constructor, 0, set()
        self.lines = None

    def walk(self, node, path: tuple):
        if node is None:
            return None
        self.count += 1
        if self.count > _MAX_NODES:
            raise SpaceError(f"document too large (over {_MAX_NODES:,} values, with its aliases expanded)",
                             Loc(self.doc.file))
        self.doc.marks.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if id(node) in self.active:
            raise SpaceError("an alias refers to itself", self.doc.loc(path))
        if isinstance(node, yaml.MappingNode):
            self.active.add(id(node))
            out = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise SpaceError("mapping keys must be plain names", self.doc.loc(path))
                key = key_node.value
                sub = path + (key,)
                if key in out:
                    first = self.doc.key_marks.get(sub, (None, None))[0]
                    raise SpaceError(f"duplicate key '{key}' (first defined on line {first})",
                                     Loc(self.doc.file, key_node.start_mark.line + 1,
                                         key_node.start_mark.column + 1, "/".join(map(str, sub))))
                self.doc.key_marks[sub] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                out[key] = self.walk(value_node, sub)
            self.active.discard(id(node))
            return out
        if isinstance(node, yaml.SequenceNode):
            self.active.add(id(node))
            out = [self.walk(v, path + (i,)) for i, v in enumerate(node.value)]
            self.active.discard(id(node))
            return out
        if node.style is not None or node.start_mark.line != node.end_mark.line:
            if self.lines is None:
                self.lines = self.doc.text.splitlines()
            self.doc.segments[path] = _segments(self.lines, node)
        if self.constructor is None:
            return None
        try:
            value = self.constructor.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as err:
            raise SpaceError(f"invalid value: {err.problem}", self.doc.loc(path)) from None
        except Exception as err:  # PyYAML raises ValueError and others for bad tagged scalars
            raise SpaceError(f"invalid value: {_short(err)}", self.doc.loc(path)) from None
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise SpaceError(f"unsupported value of type {type(value).__name__}: use a number, "
                             "string, boolean, list or mapping", self.doc.loc(path))
        return value


_VALIDATOR = None


def validate(doc: Document, schema: str = "space.schema.json") -> None:
    """Check ``doc`` against a JSON Schema; every independent error, each at its place."""
    global _VALIDATOR
    if _VALIDATOR is None or _VALIDATOR[0] != schema:
        _VALIDATOR = (schema, Draft202012Validator(json.loads(data_file("schemas", schema).read_text())))
    errors = []
    raw = list(_VALIDATOR[1].iter_errors(doc.data))
    typos = _typos(raw)
    for err in raw:
        if id(err) in typos:
            if typos[id(err)] is not None:
                errors.append(typos[id(err)](doc))
            continue
        err = _most_specific(err)
        path = tuple(err.absolute_path)
        where = "/".join(map(str, path)) or "the document"
        message = _schema_message(err, where)
        loc = doc.loc(path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            if extra:
                loc = doc.loc(path + (extra[0],), key=True)
        errors.append(SpaceError(message, loc))
    raise_all(errors)


def _typos(raw) -> dict:
    """A missing required key next to an unknown key that looks like it is one mistake: the
    unknown key's error (with a did-you-mean) replaces both. Maps id(error) -> maker or None."""
    from ..errors import did_you_mean
    out: dict = {}
    flat = [_most_specific(e) for e in raw]
    for err, top in zip(flat, raw):
        if err.validator != "required" or not isinstance(err.instance, dict):
            continue
        missing = err.message.split("'")[1] if "'" in err.message else ""
        for other, other_top in zip(flat, raw):
            if other.validator != "additionalProperties" or other.instance is not err.instance:
                continue
            extra = sorted(set(other.instance) - set(other.schema.get("properties", {})))
            close = [x for x in extra if did_you_mean(x, [missing])]
            if close:
                path = tuple(other.absolute_path) + (close[0],)
                where = "/".join(map(str, other.absolute_path))

                def make(doc, key=close[0], path=path, where=where):
                    return SpaceError(f"unknown key '{key}' in {where}", doc.loc(path, key=True),
                                      hint=f"did you mean '{missing}'?")
                out[id(top)] = None
                out[id(other_top)] = make
    return out


def _most_specific(err):
    """For oneOf/anyOf failures, the sub-error deepest in the document (jsonschema's best_match)."""
    from jsonschema.exceptions import best_match
    if err.context:
        return _most_specific(best_match(err.context))
    return err


def _schema_message(err, where: str) -> str:
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        allowed = ", ".join(sorted(err.schema.get("properties", {})))
        return clip(f"unknown key {', '.join(repr(e) for e in extra)} in {where} (allowed: {allowed})", 300)
    if err.validator == "required":
        return f"{where} is missing {err.message.split(' is a required')[0]}"
    if err.validator == "type" and len(repr(err.instance)) > 40:  # never quote a whole file that is not a space
        wanted = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        return f"{where}: {_json_type(err.instance)} is not of type {', '.join(repr(w) for w in wanted)}"
    return f"{where}: {clip(err.message, 160)}"


def _json_type(value) -> str:
    """What a value is, without quoting it."""
    if isinstance(value, dict):
        return f"a mapping of {len(value):,} keys"
    if isinstance(value, list):
        return f"a list of {len(value):,} items"
    if isinstance(value, str):
        return f"a string of {len(value):,} characters"
    return f"a value of type {type(value).__name__}"


def _segments(lines: list, node) -> tuple:
    """Where each source line of a quoted, block or multi-line scalar starts in its value.

    Lines of block (``|``, ``>``) and plain or quoted multi-line scalars join with one character
    (a newline or a space), so offsets in the value map back to (line, col) of the source."""
    start, end = node.start_mark, node.end_mark
    out, offset = [], 0
    if node.style in ("|", ">"):
        rows = [r for r in range(start.line + 1, min(end.line + 1, len(lines))) if lines[r].strip()]
        if not rows:
            return ()
        base = len(lines[rows[0]]) - len(lines[rows[0]].lstrip(" "))  # the block's indentation
        for row in rows:
            piece = lines[row][base:]
            out.append((offset, row + 1, base + 1))
            offset += len(piece) + 1
        return tuple(out)
    quote = 1 if node.style in ("'", '"') else 0
    for row in range(start.line, min(end.line + 1, len(lines))):
        content = lines[row]
        if row == start.line:
            col = start.column + quote
            piece = content[col:]
        else:
            piece = content.lstrip(" ")
            col = len(content) - len(piece)
        if not piece.strip():
            continue
        out.append((offset, row + 1, col + 1))
        offset += len(piece.rstrip()) + 1
    return tuple(out)
