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

from ..errors import Loc, SpaceError, raise_all
from ..resources import data_file

_MAX_NODES = 1_000_000  # guards against alias bombs


@dataclass
class Document:
    """Plain data of a document and where each part of it was written."""

    data: Any
    file: str
    marks: dict = field(default_factory=dict)  # path tuple -> (line, col) of the value
    key_marks: dict = field(default_factory=dict)  # path tuple -> (line, col) of its key
    text: str = ""

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
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise SpaceError(f"invalid JSON: {err.msg}", Loc(file, err.lineno, err.colno)) from None
        doc = Document(data, file, text=text)
        try:
            _Marks(doc, None).walk(yaml.compose(text, Loader=yaml.SafeLoader), ())
        except (yaml.YAMLError, SpaceError, RecursionError):
            pass  # positions are a courtesy for JSON; its data is already parsed
        return doc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise SpaceError(f"invalid YAML: {err.problem or err.context}",
                         Loc(file, mark.line + 1 if mark else None, mark.column + 1 if mark else None)) from None
    except yaml.YAMLError as err:
        raise SpaceError(f"invalid YAML: {err}", Loc(file)) from None
    doc = Document(None, file, text=text)
    doc.data = _Marks(doc, yaml.constructor.SafeConstructor()).walk(root, ())
    return doc


def load_file(path: str | Path) -> Document:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpaceError("no such file", Loc(str(path)), hint="check the path of the space document") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SpaceError(f"cannot read the document: {err}", Loc(str(path))) from None
    return load_text(text, str(path))


class _Marks:
    """Walks composed YAML nodes, recording marks; builds plain data when given a constructor."""

    def __init__(self, doc: Document, constructor):
        self.doc, self.constructor, self.count, self.active = doc, constructor, 0, set()

    def walk(self, node, path: tuple):
        if node is None:
            return None
        self.count += 1
        if self.count > _MAX_NODES:
            raise SpaceError("document too large (aliases expand to over a million values)",
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
        if self.constructor is None:
            return None
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as err:
            raise SpaceError(f"invalid value: {err.problem}", self.doc.loc(path)) from None
        except yaml.YAMLError as err:
            raise SpaceError(f"invalid value: {str(err).splitlines()[0]}", self.doc.loc(path)) from None


_VALIDATOR = None


def validate(doc: Document, schema: str = "space.schema.json") -> None:
    """Check ``doc`` against a JSON Schema; every independent error, each at its place."""
    global _VALIDATOR
    if _VALIDATOR is None or _VALIDATOR[0] != schema:
        _VALIDATOR = (schema, Draft202012Validator(json.loads(data_file("schemas", schema).read_text())))
    errors = []
    for err in _VALIDATOR[1].iter_errors(doc.data):
        err = _most_specific(err)
        path = tuple(err.absolute_path)
        where = "/".join(map(str, path)) or "the document"
        message = _schema_message(err, where)
        errors.append(SpaceError(message, doc.loc(path, key=err.validator == "additionalProperties")))
    raise_all(errors)


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
        return f"unknown key {', '.join(repr(e) for e in extra)} in {where} (allowed: {allowed})"
    if err.validator == "required":
        return f"{where} is missing {err.message.split(' is a required')[0]}"
    return f"{where}: {err.message}"
