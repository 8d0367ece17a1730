"""The hostile corpus: documents, architecture files and run folders that a downloaded space or
run could hold, each with the command that reads it and what its one error line must say.

Every case is materialised into a folder of its own (:func:`materialise`): ``files`` maps a
path inside it to text, bytes or a function that makes the file (a FIFO, a symbolic link, an
SQLite database); ``@DIR@`` in text is the case folder, ``@OUT@`` a folder outside it (where a
hostile run would like to write or read). ``argv`` is run as ``nascompile ARGV`` in the case
folder. The driver (``driver.py``) runs every case in one process and measures each; the test
(``tests/test_hostile_inputs.py``) asserts exit status 2, one located line (or at most
``lines``), no traceback, under 5 s and 1 GB, the ``expect`` text, nothing of ``forbid`` in
the output, the ``untouched`` files unchanged and the ``absent`` ones never made.

Categories (the first part of each id): ``doc`` space documents, ``arch`` architecture files,
``run`` one-shot run folders (retrain, search --resume), ``db`` multi-trial databases (trials,
report), ``page`` run folders for the report, ``build`` build folders.
"""
from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
BASE = (HERE / "base.yaml").read_text()
ARCH = {"a/op0": "conv", "kernel": 3, "mix": ["b"]}
ZEN = "Beautiful is better than ugly"
MARKER = "@OUT@/ran.txt"  # what hostile code would write if it ran


@dataclass
class Case:
    id: str
    argv: list
    expect: str
    files: dict = field(default_factory=dict)
    lines: int = 1
    located: str | None = None  # the error line starts with this (after @DIR@ is filled in)
    forbid: tuple = ()
    untouched: tuple = ()  # paths (with @DIR@/@OUT@) whose bytes must not change
    absent: tuple = ()  # paths that must not exist afterwards


CASES: list[Case] = []


def case(*args, **kwargs) -> None:
    CASES.append(Case(*args, **kwargs))


HEAD = "nascompile: 1\nname: t\ninput: [3, 8, 8]\n"


def doc(body: str) -> str:
    return HEAD + body


def nodes(**exprs) -> str:
    return doc("network:\n  nodes:\n" + "".join(f"    {k}: {json.dumps(v)}\n" for k, v in exprs.items()))


def build_check(cid, text, expect, name="space.yaml", located=None, extra=(), **kw):
    case(cid, ["build", "--check", name, *extra], expect, {name: text, **kw.pop("files", {})},
         located=located or name, **kw)


# --- space documents: sizes ----------------------------------------------------------------------
build_check("doc-repeat-billion", doc("network:\n  nodes:\n    a: input | relu\n    b: {repeat: 1000000000, do: identity()}\n"),
            "repeat of 1,000,000,000 blocks is too many", located="space.yaml:7:")
build_check("doc-repeat-power", doc("network:\n  nodes:\n    a: input | relu\n    b: {repeat: '10 ** 9', do: identity()}\n"),
            "blocks is too many")
build_check("doc-max-range", nodes(a="input | relu", b={"if": "max(range(10**15)) > 3", "do": "a | relu"}),
            "range too long")
build_check("doc-float-in-range", nodes(a="input | relu", b={"if": "0.5 in range(10**15)", "do": "a | relu"}),
            "range too long")
build_check("doc-enumerate-range", nodes(a="input | relu", b={"if": "len(enumerate(range(10**12))) > 0", "do": "a"}),
            "range too long")
build_check("doc-len-range", nodes(a="input | relu", b={"if": "len(range(10**100)) > 0", "do": "a"}),
            "range too long")
build_check("doc-range-step", nodes(a="input | relu", b={"if": "len(range(0, 10**15, 7)) > 0", "do": "a"}),
            "range too long")
build_check("doc-comprehension-range", nodes(a="input | relu", b={"if": "len([i for i in range(10**9)]) > 0", "do": "a"}),
            "too long")
build_check("doc-for-billion", nodes(a={"for": "i in range(10**9)", "do": "input | relu"}), "range too long")
build_check("doc-for-items", doc("network:\n  nodes:\n    a:\n      for: i in range(100000)\n"
                                 "      do: input | relu | relu | relu\n"), "the space is too large")

DOUBLING = "".join(f"  d{i}(x): d{i - 1}(x) + d{i - 1}(x)\n" for i in range(1, 31))
build_check("doc-defs-double", doc("defs:\n  d0(x): x + 1\n" + DOUBLING
                                   + "network:\n  nodes:\n    a: {if: 'd30(1) > 0', do: input | relu}\n"),
            "takes too long to evaluate")
build_check("doc-defs-string-double", doc("defs:\n  d0(x): x + 'ab'\n" + DOUBLING
                                          + "network:\n  nodes:\n    a: {if: \"d30('x') == 'y'\", do: input | relu}\n"),
            "string too long")
build_check("doc-defs-list-double", doc("defs:\n  d0(x): '[x, x]'\n"
                                        + "".join(f"  d{i}(x): '[d{i - 1}(x), d{i - 1}(x)]'\n" for i in range(1, 31))
                                        + "network:\n  nodes:\n    a: {if: 'len(d30(1)) > 0', do: input | relu}\n"),
            "list too long")
build_check("doc-list-concat-double", doc("defs:\n  d0(x): '[x] + [x]'\n"
                                          + "".join(f"  d{i}(x): d{i - 1}(x) + d{i - 1}(x)\n" for i in range(1, 31))
                                          + "network:\n  nodes:\n    a: {if: 'len(d30(1)) > 0', do: input | relu}\n"),
            "too long")
build_check("doc-nested-list-values", doc(
    "network:\n  nodes:\n    l0: {for: 'i in range(2)', do: '[1, 2, 3]'}\n"
    + "".join(f"    l{i}: {{for: 'j in range(20)', do: 'l{i - 1}'}}\n" for i in range(1, 6))
    + "    a: {if: 'len(l5) > 0', do: input | relu}\n"), "list too long")
INPUTS40 = "".join(f"    t{i}: input | relu\n" for i in range(40))
build_check("doc-input-choice-any-of-40", doc("network:\n  nodes:\n" + INPUTS40
                                               + "    pick: input_choice([" + ", ".join(f"t{i}" for i in range(40))
                                               + "], n_chosen=null)\n"), "input_choice has too many options")
build_check("doc-input-choice-20-of-40", doc("network:\n  nodes:\n" + INPUTS40
                                              + "    pick: input_choice([" + ", ".join(f"t{i}" for i in range(40))
                                              + "], n_chosen=20)\n"), "too many options")
build_check("doc-input-choice-star", doc("network:\n  nodes:\n    t: {for: 'i in range(60)', do: input | relu}\n"
                                         "    pick: input_choice(t, n_chosen=null)\n"), "too many options")
INPUTS16 = "".join(f"    t{i}: input | relu\n" for i in range(16))
build_check("doc-options-in-all", doc("network:\n  nodes:\n" + INPUTS16 + "    p: {for: 'i in range(40)', do: 'input_choice(["
                                      + ", ".join(f"t{i}" for i in range(16)) + "], n_chosen=null)'}\n"),
            "too many options together")
build_check("doc-conv-googol", nodes(a="input | conv(10**100, 3)"), "gives a dimension of about 10^100",
            located="space.yaml:6:")
build_check("doc-conv-1e8", nodes(a="input | conv(100000000, 3)"), "gives a dimension of 100,000,000")
build_check("doc-linear-huge", doc("input: [3, 64, 64]\nnetwork:\n  nodes:\n    a: input | flatten | linear(16000000)\n")
            .replace("input: [3, 8, 8]\n", "", 1), "weights (at most 10,000,000,000)")
build_check("doc-weights-in-all", doc("network:\n  nodes:\n    a: {for: 'i in range(30)', do: 'input | conv(16000000, 3)'}\n"),
            "over 10,000,000,000 weights")
build_check("doc-input-too-big", doc("network:\n  nodes:\n    a: input | relu\n").replace("[3, 8, 8]", "[3, 100000000, 10]"),
            "is greater than the maximum")
build_check("doc-input-elements", doc("network:\n  nodes:\n    a: input | relu\n").replace("[3, 8, 8]", "[16777216, 16777216, 16]"),
            "too large")
build_check("doc-power-tower", nodes(a={"if": "10 ** 10 ** 10 > 0", "do": "input | relu"}), "number too large")
build_check("doc-product-digits", nodes(a={"if": "(10 ** 900) * (10 ** 900) > 0", "do": "input | relu"}),
            "number too large")
build_check("doc-round-digits", nodes(a={"if": "round(1, -10 ** 900) == 0", "do": "input | relu"}), "round()")
build_check("doc-int-of-long-string", nodes(a={"if": f"int('{'9' * 5000}') > 0", "do": "input | relu"}), "too long")
build_check("doc-int-of-inf", nodes(a="input | conv(int(float('1e999')), 3)"), "int()")
build_check("doc-int-of-nan", nodes(a="input | conv(int(float('nan')), 3)"), "int()")
build_check("doc-string-times", nodes(a={"if": "'a' * 10 ** 9 == 'b'", "do": "input | relu"}), "cannot use a string")
build_check("doc-long-expression", nodes(a="input | relu" + " " * 100_001), "expression too long")
build_check("doc-value-choice-star", nodes(a="input | conv(choice(*range(200000)), 3)"), "range too long")
build_check("doc-many-checks", doc("network:\n  nodes:\n"
                                    + "".join(f"    w{i}: {{for: 'j in range(1)', do: 'choice(1, 2, 3, label=\"w{i}\")'}}\n"
                                              for i in range(12))
                                    + "    a: input | conv(" + " + ".join(f"w{i}[0]" for i in range(12)) + ", 3)\n"
                                    + "".join(f"    b{k}: a | conv(8, 3, groups=" + " + ".join(f"w{i}[0]" for i in range(12))
                                              + ")\n" for k in range(8))), "take too long to check")
build_check("doc-choices-summed", doc("network:\n  nodes:\n    w: {for: 'i in range(200)', do: 'choice(1, 2)'}\n"
                                      "    a: input | conv(" + " + ".join(f"w[{i}]" for i in range(200)) + ", 3)\n"),
            "nested too deeply")
build_check("doc-choices-13", doc("network:\n  nodes:\n    w: {for: 'i in range(20)', do: 'choice(1, 2)'}\n"
                                  "    a: input | conv(" + " + ".join(f"w[{i}]" for i in range(13)) + ", 3)\n"),
            "depends on 13 choices")
build_check("doc-sym-deep", doc("network:\n  nodes:\n    w:\n      for: 'i in range(300)'\n"
                                "      do: \"(w[i - 1] if i > 0 else choice(1, 2, label='w')) + 1\"\n"
                                "    a: input | conv(w[-1], 3)\n"), "too large")
build_check("doc-set-huge-int", nodes(a="input | conv(C, 3)").replace("input: [3, 8, 8]\n", "input: [3, 8, 8]\nparams: {C: 8}\n"),
            "--set C", extra=("--set", "C=" + "9" * 5000), located="--set")
build_check("doc-set-deep-list", nodes(a="input | conv(C, 3)").replace("input: [3, 8, 8]\n", "input: [3, 8, 8]\nparams: {C: 8}\n"),
            "--set C", extra=("--set", "C=" + "[" * 4999 + "]" * 4999), located="--set")
build_check("doc-set-long", nodes(a="input | conv(C, 3)").replace("input: [3, 8, 8]\n", "input: [3, 8, 8]\nparams: {C: 8}\n"),
            "too long", extra=("--set", "C=" + "x" * 20_000), located="--set")
build_check("doc-alias-bomb", doc("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                                  "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                                  "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                                  "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"), "with its aliases expanded")
build_check("doc-many-values", doc("network:\n  nodes:\n" + "".join(f"    n{i}: input | relu\n" for i in range(120_000))),
            "document too large")
build_check("doc-alias-errors", doc("cells:\n  c0: {inputs: [x], nodes: &a {a: x | conw(1), b: x | conw(2), c: x | conw(3)}}\n"
                                    + "".join(f"  c{i}: {{inputs: [x], nodes: *a}}\n" for i in range(1, 60))
                                    + "network:\n  nodes:\n" + "".join(f"    n{i}: c{i}(input)\n" for i in range(60))),
            "unknown name 'conw", lines=21)
build_check("doc-big-then-syntax-error", doc("description: '" + "x" * 19_000_000 + "'\nbad: [\n"), "invalid YAML",
            located="space.yaml:6:")
build_check("doc-many-keys-then-error", doc("".join(f"k{i}: 'abc'\n" for i in range(1_000_000)) + "bad: [\n"),
            "document too large")
build_check("doc-json-many-values", json.dumps({"nascompile": 1, "name": "t", "input": [3, 8, 8], "network": {
    "nodes": {f"n{i}": "input | relu" for i in range(120_000)}}}), "document too large", name="space.json")
build_check("doc-4000-bad-nodes", doc("network:\n  nodes:\n" + "".join(f"    n{i}: input | conw{i}(8, 3)\n"
                                                                      for i in range(4000))),
            "unknown name 'conw0'", lines=21)

# --- space documents: nesting ---------------------------------------------------------------------
build_check("doc-sum-800", nodes(a={"if": "+".join(["1"] * 800) + " > 0", "do": "input | relu"}), "nested too deeply")
build_check("doc-pipe-800", nodes(a="input" + " | relu" * 800), "nested too deeply")
build_check("doc-list-400", nodes(a={"if": "len(" + "[" * 400 + "]" * 400 + ") > 0", "do": "input | relu"}),
            "nested too deeply")
build_check("doc-neg-800", nodes(a={"if": "-" * 800 + "1 > 0", "do": "input | relu"}), "nested too deeply")
build_check("doc-not-800", nodes(a={"if": "not " * 800 + "true", "do": "input | relu"}), "nested too deeply")
build_check("doc-parens-800", nodes(a={"if": "(1 + " * 800 + "1" + ")" * 800 + " > 0", "do": "input | relu"}),
            "nested too deeply")
build_check("doc-calls-400", nodes(a="input | conv(" + "abs(" * 400 + "8" + ")" * 400 + ", 3)"), "nested too deeply")
build_check("doc-index-800", nodes(a={"if": "[1]" + "[0:1]" * 800 + " == [1]", "do": "input | relu"}), "nested too deeply")
build_check("doc-ternary-400", nodes(a={"if": "1 if true else " * 400 + "2", "do": "input | relu"}), "nested too deeply")
build_check("doc-defs-deep-chain", doc("defs:\n  f0(x): x + 1\n"
                                       + "".join(f"  f{i}(x): " + "1 + (" * 30 + f"f{i - 1}(x)" + ")" * 30 + "\n"
                                                 for i in range(1, 60))
                                       + "network:\n  nodes:\n    a: {if: 'f59(1) > 0', do: input | relu}\n"),
            "nested too deeply")
build_check("doc-yaml-flow-200k", doc("network:\n  nodes:\n    a: input | relu\nx: " + "[" * 200_000 + "]" * 200_000 + "\n"),
            "nested too deeply", located="space.yaml:7:")
build_check("doc-yaml-block-60", doc("network:\n  nodes:\n    a: input | relu\nx:\n"
                                     + "".join("  " * i + "- \n" for i in range(1, 61))), "nested too deeply")
build_check("doc-yaml-mapping-60", doc("network:\n  nodes:\n    a: input | relu\n"
                                       + "".join("  " * i + f"k{i}:\n" for i in range(60)) + "  " * 60 + "v: 1\n"),
            "nested too deeply")
build_check("doc-json-deep", '{"nascompile": 1, "x": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply",
            name="space.json")
build_check("doc-json-900", '{"nascompile": 1, "x": ' + "[" * 900 + "]" * 900 + "}", "nested too deeply",
            name="space.json")
build_check("doc-json-big-int", '{"nascompile": 1, "name": "t", "input": [3, 8, 8], "x": ' + "9" * 5000 + "}",
            "digits", name="space.json")
build_check("doc-json-dup-key", '{"nascompile": 1, "name": "t", "name": "u", "input": [3, 8, 8]}', "duplicate key",
            name="space.json")
build_check("doc-cell-recursion", doc("cells:\n  c:\n    inputs: [x]\n    nodes: {y: c(x)}\n"
                                      "network:\n  nodes:\n    a: c(input)\n"), "contains itself")
build_check("doc-def-recursion", doc("defs:\n  f(x): f(x + 1)\nnetwork:\n  nodes:\n    a: {if: 'f(1) > 0', do: input | relu}\n"),
            "recurses more than")

# --- space documents: files and text --------------------------------------------------------------
case("doc-dev-zero", ["build", "--check", "/dev/zero"], "not a regular file", located="/dev/zero")
case("doc-fifo", ["build", "--check", "pipe.yaml"], "not a regular file",
     {"pipe.yaml": lambda p: os.mkfifo(p)}, located="pipe.yaml")
case("doc-folder", ["build", "--check", "folder.yaml"], "is a folder", {"folder.yaml/x": "1"}, located="folder.yaml")
case("doc-too-large", ["build", "--check", "big.yaml"], "too large", {"big.yaml": "# " + "x" * 25_000_000 + "\n"},
     located="big.yaml")
SECRET = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nsecret-token-1234\n" * 30
case("doc-text-file", ["build", "--check", "shadow"], "is not of type 'object'", {"shadow": SECRET},
     located="shadow", forbid=("root:x", "secret-token"))
case("doc-binary", ["build", "--check", "bin.yaml"], "not UTF-8", {"bin.yaml": bytes(range(256)) * 10},
     located="bin.yaml")
case("doc-nul", ["build", "--check", "nul.yaml"], "control characters",
     {"nul.yaml": nodes(a="input | relu").replace("name: t", "name: t\x00x")}, located="nul.yaml")
case("doc-ansi-label", ["build", "--check", "space.yaml"], "label",
     {"space.yaml": nodes(a="input | choice(relu, identity(), label='\x1b[2J\x1b[31mred')",
                          b="a | choice(relu, sigmoid, identity(), label='\x1b[2J\x1b[31mred')")},
     located="space.yaml", forbid=("\x1b",))
case("doc-ansi-name", ["build", "--check", "space.yaml"], "unexpected character",
     {"space.yaml": nodes(a="input | relu", b="a | nope\u202e")}, located="space.yaml", forbid=("\u202e",))
case("doc-ansi-key", ["build", "--check", "space.yaml"], "",
     {"space.yaml": doc("network:\n  nodes:\n    \"\\e[31mx\\r\": input | relu\n")}, located="space.yaml",
     forbid=("\x1b", "\r"))
case("doc-long-name", ["build", "--check", "space.yaml"], "unknown name",
     {"space.yaml": nodes(a="input | " + "q" * 9000)}, located="space.yaml")
case("doc-import-this", ["build", "--check", "space.yaml"], "--allow-imports",
     {"space.yaml": doc("imports: {z: 'this:s'}\nnetwork:\n  nodes:\n    a: input | relu\n")},
     located="space.yaml:4:", forbid=(ZEN,))
case("doc-import-os-system", ["build", "--check", "space.yaml"], "not imported unless asked",
     {"space.yaml": doc("imports: {z: 'os:system'}\nnetwork:\n  nodes:\n    a: input | z('touch @OUT@/ran.txt')\n")},
     located="space.yaml", absent=(MARKER,), lines=2)
case("doc-import-beside", ["build", "-o", "out", "space.yaml"], "not imported unless asked",
     {"space.yaml": doc("imports: {z: 'evil:Op'}\nnetwork:\n  nodes:\n    a: input | relu\n"),
      "evil.py": "open('@OUT@/ran.txt', 'w').write('ran')\nOp = None\n"},
     located="space.yaml", absent=(MARKER, "@DIR@/out"))
case("doc-fix-import", ["fix", "space.yaml", "arch.json", "-o", "m.pt"], "not imported unless asked",
     {"space.yaml": doc("imports: {z: 'evil:Op'}\nnetwork:\n  nodes:\n    a: input | relu\n"),
      "evil.py": "open('@OUT@/ran.txt', 'w').write('ran')\nOp = None\n", "arch.json": "{}"},
     located="space.yaml", absent=(MARKER, "@DIR@/m.pt"))
case("doc-fix-o-1e8", ["fix", "space.yaml", "arch.json", "-o", "m.pt"], "gives a dimension of 100,000,000",
     {"space.yaml": nodes(a="input | conv(100000000, 3)"), "arch.json": "{}"}, located="space.yaml",
     absent=("@DIR@/m.pt",))
case("doc-export-googol", ["export-code", "space.yaml", "arch.json", "-o", "m.py"], "about 10^100",
     {"space.yaml": nodes(a="input | conv(10**100, 3)"), "arch.json": "{}"}, located="space.yaml",
     absent=("@DIR@/m.py",))
case("doc-convert-deep", ["convert", "space.yaml", "arch.json"], "nested too deeply",
     {"space.yaml": nodes(a="input" + " | relu" * 300), "arch.json": "{}"}, located="space.yaml")


# --- architecture files -------------------------------------------------------------------------
def fix(cid, arch_text, expect, located="arch.json", cmd="fix", **kw):
    argv = {"fix": ["fix", "base.yaml", "arch.json"], "export": ["export-code", "base.yaml", "arch.json", "-o", "m.py"],
            "build": ["build", "base.yaml", "--check", "--arch", "arch.json"],
            "convert": ["convert", "base.yaml", "arch.json", "--to", "nb201"]}[cmd]
    case(cid, argv, expect, {"base.yaml": BASE, "arch.json": arch_text, **kw.pop("files", {})}, located=located, **kw)


fix("arch-deep-100k", "[" * 100_000 + "]" * 100_000, "nested too deeply")
fix("arch-deep-900", '{"a/op0": ' + "[" * 900 + "]" * 900 + "}", "nested too deeply")
fix("arch-deep-10", '{"a/op0": ' + "[" * 10 + "]" * 10 + "}", "nested too deeply")
fix("arch-big-int", '{"kernel": ' + "9" * 5000 + "}", "digits")
fix("arch-big-int-4000", '{"kernel": ' + "9" * 4000 + "}", "digits", cmd="export")
fix("arch-dup-key", '{"kernel": 1, "kernel": 3, "a/op0": "conv", "mix": ["b"]}', "duplicate key")
fix("arch-nan", '{"kernel": NaN, "a/op0": "conv", "mix": ["b"]}', "NaN is not JSON")
fix("arch-infinity", '{"kernel": -Infinity}', "Infinity is not JSON")
fix("arch-list", "[1, 2, 3]", "JSON object", located="arch.json:1:1")
fix("arch-string", '"a/op0"', "JSON object")
fix("arch-empty", "", "invalid JSON", located="arch.json:1:1")
fix("arch-bom", "\ufeff{}", "invalid JSON")
fix("arch-binary", b"\xff\xfe\x00\x01" * 100, "not UTF-8")
fix("arch-too-large", '{"x": "' + "y" * 11_000_000 + '"}', "too large")
fix("arch-unknown-ansi", json.dumps({"\x1b[2Jevil\x07": 1}), "unknown label", forbid=("\x1b", "\x07"))
fix("arch-long-label", json.dumps({"q" * 50_000: 1}), "unknown label")
fix("arch-index-googol", json.dumps({"a/op0": 10 ** 100, "kernel": 3, "mix": ["b"]}), "out of range")
fix("arch-multi-hot-million", json.dumps({"a/op0": "conv", "kernel": 3, "mix": [True] * 1_000_000}),
    "multi-hot list needs 3 entries")
fix("arch-names-100k", json.dumps({"a/op0": "conv", "kernel": 3, "mix": ["b"] * 100_000}), "chosen twice")
fix("arch-huge-float", json.dumps({"a/op0": "conv", "kernel": 1e308, "mix": ["b"]}), "not an allowed value")
fix("arch-nested-value", json.dumps({"a/op0": {"x": [1]}, "kernel": 3, "mix": ["b"]}), "layer choice takes")
fix("arch-export-dup", '{"mix": ["b"], "mix": ["a"]}', "duplicate key", cmd="export", absent=("@DIR@/m.py",))
fix("arch-build-deep", "[" * 50_000 + "]" * 50_000, "nested too deeply", cmd="build")
fix("arch-build-big-int", '{"kernel": ' + "1" * 3000 + "}", "digits", cmd="build")
case("arch-dev-zero", ["fix", "base.yaml", "/dev/zero"], "not a regular file", {"base.yaml": BASE}, located="/dev/zero")
case("arch-fifo", ["fix", "base.yaml", "arch.json"], "not a regular file",
     {"base.yaml": BASE, "arch.json": lambda p: os.mkfifo(p)}, located="arch.json")
case("arch-folder", ["fix", "base.yaml", "arch.json"], "is a folder", {"base.yaml": BASE, "arch.json/x": "1"},
     located="arch.json")


# --- one-shot run folders ------------------------------------------------------------------------
def run_json(**changes) -> str:
    record = {"format": 1, "algo": "enas", "data": "digits", "epochs": 1, "seed": 0, "batch_size": 32, "lr": 0.05,
              "space": {"path": "@DIR@/base.yaml", "kind": "document", "overrides": {}, "name": "hostile-base"},
              "options": {}, "checkpoint_every": None, "status": "done", "valid_fraction": 0.5, "task": "classification"}
    for key, value in changes.items():
        if value is _DROP:
            record.pop(key, None)
        else:
            record[key] = value
    return json.dumps(record)


_DROP = object()


def run_case(cid, expect, cmd="retrain", run=None, located="run/run.json", extra=(), **kw):
    files = {"base.yaml": BASE, "run/arch.json": json.dumps(ARCH), "run/run.json": run if run is not None else run_json()}
    files.update(kw.pop("files", {}))
    argv = {"retrain": ["retrain", "run/arch.json", "--epochs", "0"],
            "inherit": ["retrain", "run/arch.json", "--epochs", "0", "--inherit"],
            "resume": ["search", "--resume", "-o", "run", "-q"]}[cmd]
    case(cid, argv + list(extra), expect, files, located=located, **kw)


EVIL_DATA = "open('@OUT@/ran.txt', 'w').write('ran')\ndef load():\n    return None\n"
run_case("run-data-py-file", "not imported unless asked", run=run_json(data="@DIR@/x.py:load"),
         files={"x.py": EVIL_DATA}, located="--data", absent=(MARKER,))
run_case("run-data-module", "not imported unless asked", run=run_json(data="x:load"), files={"x.py": EVIL_DATA},
         located="--data", absent=(MARKER,))
run_case("run-data-os-system", "not imported unless asked", run=run_json(data="os:system"), located="--data")
run_case("run-algo-module", "not imported unless asked", run=run_json(algo="x:T", valid_fraction=_DROP),
         files={"x.py": EVIL_DATA}, located="--algo", absent=(MARKER,))
run_case("run-not-json", "invalid JSON", run="{not json")
run_case("run-list", "not a nascompile run record", run="[1, 2]")
run_case("run-seed-text", "'seed' must be", run=run_json(seed="x"))
run_case("run-seed-huge", "'seed' must be", run=run_json(seed=10 ** 30))
run_case("run-epochs-negative", "'epochs' must be", run=run_json(epochs=-1), cmd="resume")
run_case("run-epochs-huge", "'epochs' must be", run=run_json(epochs=10 ** 12), cmd="resume")
run_case("run-lr-nan", "'lr' must be", run=run_json(lr=float("nan")), cmd="resume")
run_case("run-batch-zero", "'batch_size' must be", run=run_json(batch_size=0), cmd="resume")
run_case("run-valid-fraction", "'valid_fraction' must be", run=run_json(valid_fraction=5))
run_case("run-space-string", "'space' must be", run=run_json(space="base.yaml"))
run_case("run-space-no-path", "'space/path' must be", run=run_json(space={"kind": "document"}))
run_case("run-space-nul", "'space/path' must be", run=run_json(space={"path": "a\x00b"}))
run_case("run-overrides-dict", "'space/overrides/C' must be", run=run_json(space={"path": "@DIR@/base.yaml",
                                                                                   "overrides": {"C": {"x": 1}}}))
run_case("run-space-dev-zero", "not a regular file", run=run_json(space={"path": "/dev/zero"}), located="/dev/zero")
run_case("run-space-imports", "not imported unless asked",
         run=run_json(space={"path": "@DIR@/evil.yaml"}),
         files={"evil.yaml": BASE.replace("params:", "imports: {z: 'x:Op'}\nparams:"), "x.py": EVIL_DATA},
         located="@DIR@/evil.yaml", absent=(MARKER,))
run_case("run-deep", "nested too deeply", run='{"format": 1, "space": ' + "[" * 5000 + "]" * 5000 + "}")
run_case("run-big-int", "digits", run='{"format": 1, "seed": ' + "7" * 5000 + "}")
run_case("run-dup-key", "duplicate key", run='{"format": 1, "seed": 1, "seed": 2, "space": {}}')
run_case("run-fifo", "not a regular file", run="{}", files={"run/run.json": lambda p: os.mkfifo(p)})
run_case("run-no-algo", "run.json has no 'algo'", run=run_json(algo=_DROP), cmd="resume", located="run/run.json")
run_case("run-option-metrics-file", "is set by the command line",
         run=run_json(options={"metrics_file": "@OUT@/victim.txt"}), cmd="resume",
         files={"@OUT@/victim.txt": "precious\n"}, untouched=("@OUT@/victim.txt",))
run_case("run-option-checkpoint-dir", "is set by the command line",
         run=run_json(options={"checkpoint_dir": "@OUT@"}), cmd="resume")
run_case("run-option-model", "is set by the command line", run=run_json(options={"model": "x"}), cmd="resume")
run_case("run-option-workers", "'workers' must be", run=run_json(options={"workers": 100_000}), cmd="resume")
run_case("run-option-dict", "must be a number", run=run_json(options={"ctrl_lr": {"a": 1}}), cmd="resume")
run_case("run-option-not-name", "is not a name", run=run_json(options={"a b": 1}), cmd="resume")
run_case("run-options-list", "'options' must be", run=run_json(options=[1]), cmd="resume")
run_case("run-metrics-bad-line", "line 2 is not a JSON record", cmd="resume", located="run/metrics.jsonl:2:1",
         files={"run/metrics.jsonl": '{"kind": "epoch", "epoch": 0, "global_step": 1}\n{oops\n{"kind": "step"}\n'})
run_case("run-metrics-array", "line 1 is not a metrics record", cmd="resume", located="run/metrics.jsonl:1:1",
         files={"run/metrics.jsonl": "[1, 2]\n{}\n"})
run_case("run-metrics-epoch-text", "not a metrics record", cmd="resume", located="run/metrics.jsonl:1:1",
         files={"run/metrics.jsonl": '{"kind": "epoch", "epoch": "x"}\n'})
run_case("run-metrics-fifo", "not a regular file", cmd="resume", located="run/metrics.jsonl",
         files={"run/metrics.jsonl": lambda p: os.mkfifo(p)})
run_case("run-metrics-link", "is a symbolic link", cmd="resume", located="run/metrics.jsonl",
         files={"@OUT@/victim.txt": "precious\n", "run/metrics.jsonl": lambda p: os.symlink(_out(p, "victim.txt"), p)},
         untouched=("@OUT@/victim.txt",))
run_case("run-checkpoints-link", "is a symbolic link", cmd="resume", located="run/checkpoints",
         files={"@OUT@/ck/keep": "x", "run/checkpoints": lambda p: os.symlink(_out(p, "ck"), p)})
run_case("run-checkpoint-corrupt", "corrupt checkpoint", cmd="resume", located="run/checkpoints/last.pt",
         files={"run/checkpoints/last.pt": b"PK\x03\x04garbage" * 50})
run_case("run-checkpoint-pickle", "corrupt checkpoint", cmd="resume", located="run/checkpoints/last.pt",
         files={"run/checkpoints/last.pt": lambda p: _evil_pickle(p)}, absent=(MARKER,))
run_case("run-inherit-corrupt", "corrupt checkpoint", cmd="inherit", located="run/checkpoints/last.pt",
         files={"run/checkpoints/last.pt": b"\x00" * 1000})
run_case("run-inherit-link", "symbolic link", cmd="inherit", located="run/checkpoints/last.pt",
         files={"@OUT@/last.pt": b"x", "run/checkpoints/last.pt": lambda p: os.symlink(_out(p, "last.pt"), p)})
run_case("run-inherit-pickle", "corrupt checkpoint", cmd="inherit", located="run/checkpoints/last.pt",
         files={"run/checkpoints/last.pt": lambda p: _evil_pickle(p)}, absent=(MARKER,))
run_case("run-retrain-link", "symbolic link", located="run/retrain",
         files={"@OUT@/r/keep": "x", "run/retrain": lambda p: os.symlink(_out(p, "r"), p)})
run_case("run-arch-deep", "nested too deeply", located="run/arch.json",
         files={"run/arch.json": "[" * 10_000 + "]" * 10_000})


def _out(p: Path, name: str) -> str:
    """The file ``name`` of the folder outside the case (``@OUT@``), seen from a file of the case."""
    here = Path(p)
    while here.name != "case":
        here = here.parent
    return str(here.parent / "out" / name)


def _evil_pickle(p: Path) -> None:
    """A checkpoint whose unpickling (without weights_only) would run code."""
    import pickle
    import zipfile

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {_out(p, 'ran.txt')}",))

    with zipfile.ZipFile(p, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"format": 1, "model": Evil()}, protocol=2))
        z.writestr("archive/version", "3\n")


def _evil_batch(p: Path) -> None:
    """A CIFAR-10 batch (the dataset's pickle format) whose unpickling would run code."""
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {_out(p, 'ran.txt')}",))

    p.write_bytes(pickle.dumps({b"data": Evil(), b"labels": [0]}, protocol=2))


CIFAR = {f"data/cifar-10-batches-py/{name}": _evil_batch for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]}
case("run-cifar-pickle", ["search", "base.yaml", "--algo", "enas", "--data", "cifar10", "--epochs", "0", "-o", "run"],
     "cannot read CIFAR-10 batch", {"base.yaml": BASE.replace("[1, 8, 8]", "[3, 32, 32]"), **CIFAR},
     located="data/cifar-10-batches-py/data_batch_1", absent=(MARKER, "@DIR@/run"))


# --- multi-trial databases -------------------------------------------------------------------------
def _store(p: Path, mutate: Callable | None = None) -> None:
    from nascompile.multitrial.store import Store

    store = Store(f"sqlite:///{p}")
    store.open_experiment("hash", "random", 0, {"space": "@DIR@/base.yaml"})
    for kernel, metric in ((1, 0.5), (3, 0.75)):
        tid = store.add_trial({**ARCH, "kernel": kernel}, params=100, flops=1000)
        store.start(tid)
        store.finish(tid, "succeeded", metric=metric)
    store.close()
    if mutate is not None:
        conn = sqlite3.connect(p)
        mutate(conn)
        conn.commit()
        conn.close()


def db(cid, make, expect, cmd="trials", **kw):
    argv = {"trials": ["trials", "run"], "report": ["report", "run", "-o", "page.html"],
            "top": ["trials", "run", "--top", "1", "-o", "best"]}[cmd]
    files = {"base.yaml": BASE, "run/trials.db": make}
    files.update(kw.pop("files", {}))
    kw.setdefault("absent", ("@DIR@/page.html", "@DIR@/best"))
    case(cid, argv, expect, files, located=kw.pop("located", "run/trials.db"), **kw)


def sql(*statements):
    def mutate(conn):
        for s in statements:
            conn.execute(s)
    return lambda p: _store(p, mutate)


for cmd in ("trials", "report"):
    db(f"db-{cmd}-garbage", b"this is not a database at all" * 100, "not an SQLite database", cmd=cmd)
    db(f"db-{cmd}-sqlite-header-garbage", b"SQLite format 3\x00" + b"\xff" * 4000, "cannot be read", cmd=cmd)
    db(f"db-{cmd}-empty", b"", "no table 'experiment'", cmd=cmd, untouched=("@DIR@/run/trials.db",))
    db(f"db-{cmd}-null-metric", sql("UPDATE trials SET metric = NULL WHERE id = 1"), "succeeded without a metric",
       cmd=cmd)
    db(f"db-{cmd}-bad-arch-json", sql("UPDATE trials SET arch = '{oops' WHERE id = 2"), "invalid JSON", cmd=cmd)
    db(f"db-{cmd}-wrong-schema", lambda p: _raw(p, "CREATE TABLE trials (x INTEGER)",
                                                "CREATE TABLE experiment (y TEXT)"), "lacks", cmd=cmd)
    db(f"db-{cmd}-link", lambda p: (_store(Path(_out(p, "t.db"))), os.symlink(_out(p, "t.db"), p)),
       "symbolic link", cmd=cmd)
db("db-folder", lambda p: os.mkdir(p), "not a regular file")
db("db-fifo", lambda p: os.mkfifo(p), "not a regular file")
db("db-arch-list", sql("UPDATE trials SET arch = '[1, 2]' WHERE id = 1"), "not a JSON object")
db("db-arch-deep", sql("UPDATE trials SET arch = '" + "[" * 5000 + "]" * 5000 + "' WHERE id = 1"), "nested too deeply")
db("db-status", sql("UPDATE trials SET status = 'weird' WHERE id = 1"), "unknown status")
db("db-metric-text", sql("UPDATE trials SET metric = 'high' WHERE id = 1"), "not a number")
db("db-metric-nan", sql("UPDATE trials SET metric = 1e999 * 0 WHERE id = 1"), "without a metric")
db("db-params-text", sql("UPDATE trials SET params = 'many' WHERE id = 1"), "not a whole number")
db("db-config-json", sql("UPDATE experiment SET config = 'nope'"), "invalid JSON")
db("db-config-big-int", sql("UPDATE experiment SET config = '{\"a\": " + "9" * 3000 + "}'"), "digits")
db("db-seed-text", sql("UPDATE experiment SET seed = 'x'"), "seed")
db("db-intermediate", sql("UPDATE trials SET intermediate = '{}' WHERE id = 1"), "not a JSON list")
db("db-top-null-metric", sql("UPDATE trials SET metric = NULL WHERE id = 2"), "succeeded without a metric", cmd="top")


def _raw(p: Path, *statements) -> None:
    conn = sqlite3.connect(p)
    for s in statements:
        conn.execute(s)
    conn.commit()
    conn.close()


# --- run folders for the report ----------------------------------------------------------------------
def page(cid, files, expect, located, **kw):
    case(cid, ["report", "run", "-o", "page.html"], expect, {"base.yaml": BASE, **files}, located=located,
         absent=("@DIR@/page.html",), **kw)


page("page-run-not-json", {"run/run.json": "{oops"}, "invalid JSON", "run/run.json")
page("page-run-list", {"run/run.json": "[1]"}, "not a JSON object", "run/run.json")
page("page-arch-not-json", {"run/run.json": run_json(), "run/arch.json": "{{"}, "invalid JSON", "run/arch.json")
page("page-arch-list", {"run/run.json": run_json(), "run/arch.json": "[]"}, "not a JSON object", "run/arch.json")
page("page-metrics-bad-line", {"run/run.json": run_json(), "run/metrics.jsonl": '{oops\n{"kind": "epoch"}\n'},
     "line 1 is not a JSON record", "run/metrics.jsonl")
page("page-run-link", {"@OUT@/secret.json": json.dumps({"format": 1, "token": "secret-token-5678"}),
                       "run/run.json": lambda p: os.symlink(_out(p, "secret.json"), p)},
     "link out of the run folder", "run/run.json", forbid=("secret-token-5678",))
page("page-metrics-fifo", {"run/run.json": run_json(), "run/metrics.jsonl": lambda p: os.mkfifo(p)},
     "not a regular file", "run/metrics.jsonl")
page("page-view-malformed", {"run/run.json": run_json(), "run/space_view.json": json.dumps({"name": 1})},
     "not a space view", "run/space_view.json")
page("page-view-deep", {"run/run.json": run_json(), "run/space_view.json": "[" * 3000 + "]" * 3000},
     "nested too deeply", "run/space_view.json")
page("page-arch-big-int", {"run/run.json": run_json(), "run/arch.json": '{"kernel": ' + "3" * 2000 + "}"},
     "digits", "run/arch.json")


# --- build folders ------------------------------------------------------------------------------------
def build_dir(cid, space_json, expect, argv=None, **kw):
    files = {"b/space.json": space_json, **kw.pop("files", {})}
    case(cid, argv or ["search", "b", "--algo", "enas", "--epochs", "0", "-o", "run"], expect, files,
         located=kw.pop("located", "@DIR@/b/space.json"), absent=kw.pop("absent", ("@DIR@/run",)), **kw)


def space_json(**changes) -> str:
    import yaml

    record = {"format": 1, "source": "@DIR@/b/base.yaml", "overrides": {}, "document": yaml.safe_load(BASE)}
    record.update(changes)
    return json.dumps(record)


build_dir("build-garbage", "{not json", "corrupt build directory")
build_dir("build-no-document", json.dumps({"format": 1, "source": "x"}), "holds no document")
build_dir("build-source-list", space_json(source=[1]), "'source' is not a file name")
build_dir("build-overrides-list", space_json(overrides=[1]), "'overrides' is not a mapping")
build_dir("build-deep-document", space_json(document={"x": json.loads("[" * 60 + "]" * 60)}), "nested too deeply")
build_dir("build-imports", space_json(document={**__import__("yaml").safe_load(BASE), "imports": {"z": "evil:Op"}}),
          "not imported unless asked", files={"b/evil.py": EVIL_DATA}, located="@DIR@/b/base.yaml",
          absent=(MARKER, "@DIR@/run"))
build_dir("build-ui-imports-resume", space_json(), "", argv=["retrain", "run/arch.json", "--epochs", "0"],
          files={"run/arch.json": json.dumps(ARCH), "run/run.json": run_json(space={"path": "@DIR@/b"}, data="x:f"),
                 "b/x.py": EVIL_DATA}, located="--data", absent=(MARKER,))


def materialise(c: Case, root: Path) -> Path:
    """Make the files of case ``c`` under ``root/case`` (and ``root/out``); returns the case folder."""
    folder, out = root / "case", root / "out"
    folder.mkdir(parents=True)
    out.mkdir()
    for rel, content in c.files.items():
        target = Path(fill(rel, folder, out))
        if not target.is_absolute():
            target = folder / target
        target.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(target)
        elif isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(fill(content, folder, out), encoding="utf-8")
    return folder


def fill(text: str, folder: Path, out: Path) -> str:
    return text.replace("@DIR@", str(folder)).replace("@OUT@", str(out))
