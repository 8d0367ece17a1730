"""Fuzzing the front end: whatever text a user hands us, the only exception is a NasError.

(a) random text to the document loader, as YAML and as JSON;
(b) random strings, and strings of grammar tokens, to the expression parser;
(c) the example spaces with random deletions, duplications and swaps, compiled end to end;
(d) architecture JSON: random JSON (deep, huge numbers, duplicate keys, wrong types) and random
    text, read and checked against a space: only ArchError;
(e) run folders: random run.json, metrics.jsonl, arch.json, space_view.json and trials.db
    contents, read by the run record, the resume check and the run page (strict and not):
    only NasError, and the page's snapshot is always JSON.

Any other exception (TypeError, RecursionError, ValueError, ...) is a compiler bug: the user
would see a traceback instead of a located one-line message. The runs are derandomized so CI
sees the same examples every time; the whole file stays well under a minute.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nascompile.compiler import compile_text
from nascompile.errors import ErrorGroup, Loc, NasError, SpaceError
from nascompile.frontend import ast as A
from nascompile.frontend.load import Document, load_text
from nascompile.frontend.parse import parse

EXAMPLES = Path(__file__).parent.parent / "examples"


def fuzz_settings(n: int):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# What YAML counts as a line break (YAML 1.1, as PyYAML reads it); JSON, and most editors,
# only "\n". A position is accepted when it is inside the text under either way of counting.
LINE_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def _inside(text: str, line: int, col: int | None) -> bool:
    for lines in (LINE_BREAKS.split(text), text.split("\n")):
        # inside the document, or just past its end (for "it ends too early")
        if line <= len(lines) and (col is None or col <= len(lines[line - 1]) + 1):
            return True
        if line == len(lines) + 1 and (col is None or col == 1):
            return True
    return False


def _check_error(err: NasError, file: str, text: str | None = None) -> None:
    """A NasError that reaches the user names its file, points inside the text, prints sensibly."""
    errors = err.errors if isinstance(err, ErrorGroup) else [err]
    assert errors, "an ErrorGroup without errors"
    for e in errors:
        assert isinstance(e, NasError)
        assert e.loc.file == file, str(e)
        assert e.loc.line is None or e.loc.line >= 1, str(e)
        assert e.loc.col is None or e.loc.col >= 1, str(e)
        if text is not None and e.loc.line is not None:
            assert _inside(text, e.loc.line, e.loc.col), (str(e), text)
        assert isinstance(e.message, str) and e.message
        str(e)


# ---- (a) the loader ----------------------------------------------------------------------------

YAML_TOKENS = [
    "nascompile", "name", "input", "network", "nodes", "params", "defs", "cells", "a", "b", "x",
    "1", "3", "-2", "0.5", "1e3", ".inf", "true", "null", "~", "'q'", '"q"', ":", ": ", ",", "[", "]",
    "{", "}", "- ", "? ", "|", ">-", "&a ", "*a", "!!int ", "!!str ", "!!float ", "!!timestamp ",
    "!!binary ", "!!set ", "!!python/object ", "!foo ", "<<: ", "---\n", "...\n", "#c", "%YAML 1.1\n",
    " ", "  ", "\t", "\n", "\n  ", "\n    ", "\\", "\x00", "\ufeff", "\u2028", "é",
]
JSON_TOKENS = [
    "{", "}", "[", "]", ",", ":", '"a"', '"name"', '"nodes"', '"\\u00e9"', '"\\ud800"', '"\\x"',
    "1", "-0", "1.5e3", "1e999", "NaN", "Infinity", "true", "false", "null", " ", "\n", '"', "\\",
]


def _joined(tokens, max_size):
    return st.lists(st.sampled_from(tokens), max_size=max_size).map("".join)


def _load_only_nas_errors(text: str, fmt: str) -> None:
    file = f"fuzz.{fmt}"
    try:
        doc = load_text(text, file, fmt)
    except NasError as err:
        _check_error(err, file, text)
        return
    assert isinstance(doc, Document)
    assert doc.file == file


@fuzz_settings(300)
@given(st.text(max_size=200))
def test_load_text_random_unicode(text):
    _load_only_nas_errors(text, "yaml")
    _load_only_nas_errors(text, "json")


@fuzz_settings(300)
@given(_joined(YAML_TOKENS, 40))
def test_load_text_yamlish(text):
    _load_only_nas_errors(text, "yaml")


@fuzz_settings(300)
@given(_joined(JSON_TOKENS, 40))
def test_load_text_jsonish(text):
    _load_only_nas_errors(text, "json")


# Reproducers found while writing this file: each must be a NasError, not a crash.
LOADER_REPRODUCERS = [
    ("yaml-int-tag", "yaml", "a: !!int xyz\n"),
    ("yaml-float-tag", "yaml", "a: !!float x\n"),
    ("yaml-timestamp-tag", "yaml", "a: !!timestamp xyz\n"),
    ("yaml-int-over-4300-digits", "yaml", "a: 1" + "0" * 5000 + "\n"),
    ("json-int-over-4300-digits", "json", '{"a": 1' + "0" * 5000 + "}"),
    ("yaml-deep-nesting", "yaml", "[" * 5000 + "]" * 5000),
    ("yaml-deep-mapping", "yaml", "{a: " * 5000 + "1" + "}" * 5000),
    ("json-deep-nesting", "json", "[" * 100_000 + "]" * 100_000),
]


@pytest.mark.parametrize("fmt,text", [r[1:] for r in LOADER_REPRODUCERS],
                         ids=[r[0] for r in LOADER_REPRODUCERS])
def test_load_text_reproducers(fmt, text):
    with pytest.raises(NasError) as info:
        load_text(text, f"fuzz.{fmt}", fmt)
    _check_error(info.value, f"fuzz.{fmt}")
    assert "\n" not in str(info.value), str(info.value)


def test_json_duplicate_keys_are_errors():
    # the loader's contract: duplicate keys are errors, never silently overwritten
    with pytest.raises(SpaceError, match="duplicate key 'b'"):
        load_text('{"a": {"b": 1, "b": 2}}', "fuzz.json", "json")


# ---- (b) the expression parser --------------------------------------------------------------------

EXPR_TOKENS = [
    "x", "C", "conv", "choice", "input_choice", "k", "i", "xs", "_a1", "1", "0", "3.5", "1e3", ".5",
    "'s'", '"s"', "(", ")", "[", "]", ",", ":", "=", "*", "**", "+", "-", "/", "//", "%", "|",
    "==", "!=", "<", "<=", ">", ">=", "in", "not", "and", "or", "if", "else", "for", "#c", " ",
    "\n", "\t", "$", "`", "'", '"', "\\", ";", "@", "é", "\x00",
]
START_RULES = ["start", "for_clause", "signature"]


def _parse_only_space_errors(text: str, start: str) -> None:
    loc = Loc("expr.yaml", 10, 5, "network/nodes/a")
    try:
        tree = parse(text, loc, start=start)
    except SpaceError as err:
        # the error lies inside the text: on one of its lines, at a column within it
        assert err.loc.file == "expr.yaml"
        assert err.loc.path == "network/nodes/a"
        lines = text.split("\n")
        assert 10 <= err.loc.line <= 10 + len(lines) - 1, (str(err), text)
        width = len(lines[err.loc.line - 10]) + (4 if err.loc.line == 10 else 0)
        assert 1 <= err.loc.col <= width + 1, (str(err), text)
        assert "\n" not in str(err), str(err)
        return
    if start == "start":
        assert isinstance(tree, A.Expr), tree


@fuzz_settings(300)
@given(st.text(max_size=60), st.sampled_from(START_RULES))
def test_parse_random_strings(text, start):
    _parse_only_space_errors(text, start)


@fuzz_settings(300)
@given(st.lists(st.sampled_from(EXPR_TOKENS), max_size=30), st.sampled_from(START_RULES))
def test_parse_grammar_tokens(tokens, start):
    _parse_only_space_errors(" ".join(tokens), start)
    _parse_only_space_errors("".join(tokens), start)


PARSER_REPRODUCERS = [
    ("nested-lists", "[" * 300 + "x" + "]" * 300),
    ("nested-negation", "-" * 500 + "x"),
    ("nested-not", "not " * 500 + "x"),
    ("nested-calls", "f(" * 300 + "x" + ")" * 300),
]


@pytest.mark.parametrize("text", [r[1] for r in PARSER_REPRODUCERS],
                         ids=[r[0] for r in PARSER_REPRODUCERS])
def test_parse_reproducers(text):
    # deeply nested but well-formed: an AST or a SpaceError ("too deeply nested"), not a crash
    _parse_only_space_errors(text, "start")


# ---- (c) mutated example spaces ------------------------------------------------------------------

# DARTS with 3 cells instead of 8 keeps each compile fast; the structure is the same.
DARTS = (EXAMPLES.parent / "zoo" / "darts.yaml").read_text().replace("layers: 8,", "layers: 3,")
NB201 = (EXAMPLES.parent / "zoo" / "nasbench201.yaml").read_text()
NB201_JSON = json.dumps(yaml.safe_load(NB201), indent=2)

TOKEN_SPLIT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*|\d+|[^\sA-Za-z0-9_])")
INSERTS = [":", "[", "]", "{", "}", "(", ")", ",", "|", "-", " ", "  ", "\n", "'", '"', "*", "&",
           "!", "#", "0", "-1", "choice(", "x", "input", "node", "=", "**", "//", "\t"]
KINDS = ["del_char", "del_line", "dup_line", "swap_lines", "swap_tokens", "dup_token",
         "del_token", "copy_token", "replace_token", "insert", "indent", "dedent"]
# values that a token may be replaced with: odd numbers, other types, choices, names of things
REPLACEMENTS = ["0", "-1", "1.5", "2", "7", "64", "999999", "true", "null", "'s'", "[]", "[1, 2]",
                "choice(1, 2)", "choice(0, 3)", "choice(relu, bn)", "input", "search", "k", "x + x",
                "conv", "relu", "zero", "input_choice", "concat", "*node", "cell", "stem", "C * 0"]


def mutate(text: str, ops) -> str:
    for kind, i, j, ins in ops:
        if kind in ("del_char", "insert"):
            p = i % (len(text) + 1)
            text = text[:p] + ins + text[p:] if kind == "insert" else text[:p] + text[p + 1:]
            continue
        if kind in ("del_line", "dup_line", "swap_lines", "indent", "dedent"):
            lines = text.split("\n")
            a, b = i % len(lines), j % len(lines)
            if kind == "del_line":
                del lines[a]
            elif kind == "dup_line":
                lines.insert(a, lines[a])
            elif kind == "swap_lines":
                lines[a], lines[b] = lines[b], lines[a]
            elif kind == "indent":
                lines[a] = "  " + lines[a]
            else:
                lines[a] = lines[a][2:] if lines[a].startswith("  ") else lines[a].lstrip()
            text = "\n".join(lines)
            continue
        parts = TOKEN_SPLIT.split(text)  # separators at even indices, tokens at odd ones
        n = len(parts) // 2
        if n == 0:
            continue
        a, b = 2 * (i % n) + 1, 2 * (j % n) + 1
        if kind == "swap_tokens":
            parts[a], parts[b] = parts[b], parts[a]
        elif kind == "dup_token":
            parts[a] = parts[a] + " " + parts[a]
        elif kind == "del_token":
            parts[a] = ""
        elif kind == "replace_token":
            parts[a] = ins
        else:  # copy_token: one token replaced by another from the same document
            parts[a] = parts[b]
        text = "".join(parts)
    return text


MUTATIONS = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(0, 1 << 20), st.integers(0, 1 << 20),
              st.sampled_from(INSERTS + REPLACEMENTS)),
    min_size=1, max_size=3)


def _compile_only_nas_errors(text: str, file: str) -> None:
    try:
        space = compile_text(text, file=file)
    except NasError as err:
        _check_error(err, file, text)
        return
    assert space.graph is not None


def test_mutate_is_a_real_mutation():
    ops = [("swap_tokens", 3, 7, " ")]
    assert mutate(NB201, ops) != NB201
    assert mutate(NB201, [("del_line", 0, 0, " ")]) == NB201.split("\n", 1)[1]
    # the unmutated examples compile
    compile_text(DARTS, file="darts.yaml")
    compile_text(NB201, file="nb201.yaml")
    compile_text(NB201_JSON, file="nb201.json")


@fuzz_settings(250)
@given(MUTATIONS)
def test_mutated_darts(ops):
    _compile_only_nas_errors(mutate(DARTS, ops), "darts.yaml")


@fuzz_settings(300)
@given(MUTATIONS)
def test_mutated_nb201(ops):
    _compile_only_nas_errors(mutate(NB201, ops), "nb201.yaml")


@fuzz_settings(150)
@given(MUTATIONS)
def test_mutated_nb201_json(ops):
    _compile_only_nas_errors(mutate(NB201_JSON, ops), "nb201.json")


# ---- (d) architecture JSON -----------------------------------------------------------------------

ARCH_SPACE = (Path(__file__).parent / "hostile" / "base.yaml").read_text()
LABELS = ["a/op0", "kernel", "mix", "b", "a/op", "\x1b[2J", "", "x" * 300]
JSON_LEAVES = (st.none() | st.booleans() | st.integers() | st.integers(min_value=10 ** 30, max_value=10 ** 40)
               | st.floats(allow_nan=False) | st.text(max_size=12) | st.sampled_from(["conv", "max_pool", "stem", "a", "b"]))
JSON_VALUES = st.recursive(JSON_LEAVES, lambda kids: st.lists(kids, max_size=5)
                           | st.dictionaries(st.sampled_from(LABELS) | st.text(max_size=5), kids, max_size=4),
                           max_leaves=20)


def _arch_space():
    global _ARCH_SPACE
    if "_ARCH_SPACE" not in globals():
        _ARCH_SPACE = compile_text(ARCH_SPACE, "base.yaml")
    return _ARCH_SPACE


def _freeze_only_arch_errors(text: str, tmp_path: Path) -> None:
    from nascompile.errors import ArchError
    from nascompile.passes.freeze import freeze_arch

    path = tmp_path / "arch.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass") if isinstance(text, str) else path.write_bytes(text)
    try:
        freeze_arch(_arch_space(), str(path))
    except ArchError as err:
        assert err.loc.file == str(path), str(err)
        assert "\n" not in str(err) and "\x1b" not in str(err), str(err)


@fuzz_settings(200)
@given(st.dictionaries(st.sampled_from(LABELS), JSON_VALUES, max_size=5), st.integers(0, 4))
def test_architecture_json_random_values(tmp_path_factory, arch, depth):
    text = json.dumps(arch)
    for _ in range(depth):  # nest it further, sometimes past the limit
        text = "[" * 3 + text + "]" * 3
    _freeze_only_arch_errors(text, tmp_path_factory.mktemp("arch"))


@fuzz_settings(200)
@given(_joined(JSON_TOKENS + ['"a/op0"', '"kernel"', '"mix"', "9" * 50, "[" * 20, "]" * 20], 40))
def test_architecture_json_random_text(tmp_path_factory, text):
    _freeze_only_arch_errors(text, tmp_path_factory.mktemp("arch"))


def test_architecture_json_reproducers(tmp_path):
    for text in ('{"kernel": 3, "kernel": 1}', "[" * 100_000, '{"kernel": ' + "9" * 5000 + "}",
                 '{"mix": [true, false, true, false]}', '{"a/op0": NaN}', "\ufeff{}", '{"mix": ' + "[" * 9 + "]" * 9 + "}"):
        _freeze_only_arch_errors(text, tmp_path)


# ---- (e) run folders ------------------------------------------------------------------------------

RUN_FIELDS = {"format": st.sampled_from([1, 1, 2, "1", None]), "algo": st.sampled_from(["enas", "x:Y", "", 3]),
              "data": st.sampled_from(["digits", "a.py:f", 1, None]), "seed": JSON_LEAVES, "epochs": JSON_LEAVES,
              "batch_size": JSON_LEAVES, "lr": JSON_LEAVES, "valid_fraction": JSON_LEAVES, "status": JSON_VALUES,
              "options": JSON_VALUES, "checkpoint_every": JSON_LEAVES,
              "space": JSON_VALUES | st.fixed_dictionaries({"path": JSON_LEAVES, "overrides": JSON_VALUES})}
RUN_RECORDS = st.fixed_dictionaries({}, optional=RUN_FIELDS)
LOG_LINES = st.lists(st.one_of(JSON_VALUES.map(json.dumps), st.text(max_size=30),
                               st.fixed_dictionaries({"kind": st.sampled_from(["epoch", "step", "arch_probs"])},
                                                     optional={"epoch": JSON_LEAVES, "global_step": JSON_LEAVES,
                                                               "train": JSON_VALUES, "valid": JSON_VALUES,
                                                               "arch_probs": JSON_VALUES}).map(json.dumps)),
                     max_size=8)


def _run_folder(root: Path, record, lines, arch, view) -> Path:
    run = root / "run"
    run.mkdir(parents=True, exist_ok=True)
    (run / "run.json").write_text(record if isinstance(record, str) else json.dumps(record))
    (run / "metrics.jsonl").write_text("\n".join(lines))
    if arch is not None:
        (run / "arch.json").write_text(json.dumps(arch))
    if view is not None:
        (run / "space_view.json").write_text(json.dumps(view))
    return run


def _read_run_folder(run: Path) -> None:
    from nascompile.cli.runs import check_metrics_log, check_options, read_run
    from nascompile.ui import collect

    try:
        record = read_run(run)
        check_options(record.get("options") or {}, Loc("run.json"))
    except NasError as err:
        assert "\n" not in str(err), str(err)
    try:
        check_metrics_log(run / "metrics.jsonl")
    except NasError as err:
        assert err.loc.file == str(run / "metrics.jsonl"), str(err)
    snap = collect(run)
    json.dumps(snap, default=str, allow_nan=False)
    try:
        collect(run, strict=True)
    except NasError as err:
        assert err.loc.file and err.loc.file.startswith(str(run)), str(err)


@fuzz_settings(150)
@given(RUN_RECORDS, LOG_LINES, st.none() | JSON_VALUES, st.none() | JSON_VALUES)
def test_run_folders_random_contents(tmp_path_factory, record, lines, arch, view):
    _read_run_folder(_run_folder(tmp_path_factory.mktemp("run"), record, lines, arch, view))


@fuzz_settings(100)
@given(_joined(JSON_TOKENS + ['"format"', '"space"', '"path"', "1"], 30), LOG_LINES)
def test_run_folders_random_text(tmp_path_factory, text, lines):
    _read_run_folder(_run_folder(tmp_path_factory.mktemp("run"), text, lines, None, None))


TRIAL_COLUMNS = ["arch", "status", "intermediate", "metric", "final", "params", "flops", "error", "start", "end"]
SQL_VALUES = (st.none() | st.integers(-10 ** 18, 10 ** 18) | st.floats(allow_nan=False) | st.text(max_size=20)
              | st.binary(max_size=10) | JSON_VALUES.map(json.dumps))


@fuzz_settings(80)
@given(st.lists(st.tuples(st.sampled_from(TRIAL_COLUMNS), st.integers(1, 3), SQL_VALUES), max_size=4),
       st.sampled_from(["config", "strategy", "seed", "fingerprint", None]), SQL_VALUES)
def test_trials_databases_random_cells(tmp_path_factory, changes, experiment_column, experiment_value):
    import sqlite3

    from nascompile.multitrial.store import Store, StoreError
    from nascompile.ui import collect

    run = tmp_path_factory.mktemp("db") / "run"
    run.mkdir()
    store = Store.in_run_dir(run)
    store.open_experiment("hash", "random", 0, {"space": "none.yaml"})
    for kernel in (1, 3):
        tid = store.add_trial({"kernel": kernel}, params=1, flops=2)
        store.start(tid)
        store.finish(tid, "succeeded", metric=0.5)
    store.close()
    conn = sqlite3.connect(run / "trials.db")
    for column, row, value in changes:
        try:
            conn.execute(f'UPDATE trials SET "{column}" = ? WHERE id = ?', (value, row))
        except sqlite3.IntegrityError:  # NOT NULL: the schema itself refuses it
            pass
    if experiment_column:
        try:
            conn.execute(f"UPDATE experiment SET {experiment_column} = ?", (experiment_value,))
        except sqlite3.IntegrityError:
            pass
    conn.commit()
    conn.close()
    before = (run / "trials.db").read_bytes()
    try:
        readonly = Store.open_readonly(run)
        try:
            readonly.all_trials()
            readonly.experiment_info()
        finally:
            readonly.close()
    except StoreError as err:
        assert err.loc.file == str(run / "trials.db"), str(err)
    json.dumps(collect(run), default=str, allow_nan=False)
    assert (run / "trials.db").read_bytes() == before
