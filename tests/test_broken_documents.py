"""A corpus of broken space documents and the one error each must give.

Every case is a small document with exactly one mistake. The test checks what a user sees:
the error is a :class:`NasError` (never a Python exception from inside the compiler), it names
the mistake (a distinctive part of the message, and the did-you-mean hint where there is one),
it is one line, and it points at the exact line and column of the mistake (1-based, as an
editor counts them) and, where it has one, at the document path of the node or key.

When one of these fails, the compiler is wrong, not the table: the expected values are what
the document's author needs to find and fix the mistake.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from nascompile.compiler import compile_text
from nascompile.errors import ErrorGroup, NasError

ROOT = Path(__file__).resolve().parent.parent


def doc(text: str) -> str:
    """Dedent an inline document; its first line is line 1."""
    return textwrap.dedent(text).lstrip("\n")


@dataclass
class Case:
    id: str
    text: str
    message: str | tuple  # substring(s) of err.message
    line: int
    col: int
    path: str | None = None  # the document path, where the error has one
    hint: str | None = None  # substring of err.hint
    file: str = "space.yaml"
    overrides: dict | None = None


# A valid document's first four lines; the cases below that use it count their lines from it.
HEAD = """\
nascompile: 1
name: t
input: [3, 32, 32]
params: {C: 16}
"""

CASES = [
    # ---- YAML syntax -------------------------------------------------------------------
    Case("yaml-bad-indentation", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
           head: stem | relu
        """), "invalid YAML", 8, 4),
    Case("yaml-tab-indentation", HEAD + "network:\n\tnodes:\n    stem: input\n",
         ("invalid YAML", "'\\t'"), 6, 1),
    Case("yaml-colon-inside-plain-scalar", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            a: stem | choice(a=relu, b: bn)
        """), ("invalid YAML", "mapping values are not allowed"), 8, 31),
    Case("yaml-duplicate-key", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            stem: input | bn
        """), ("duplicate key 'stem'", "first defined on line 7"), 8, 5, "network/nodes/stem"),
    Case("yaml-duplicate-top-level-key", doc("""
        nascompile: 1
        name: t
        input: [3, 32, 32]
        name: u
        network:
          nodes:
            stem: input | conv(16, 3)
        """), ("duplicate key 'name'", "first defined on line 2"), 4, 1, "name"),
    Case("yaml-unknown-tag", doc("""
        nascompile: 1
        name: t
        input: [3, 32, 32]
        params: {C: !foo 16}
        network:
          nodes:
            stem: input | conv(C, 3)
        """), "!foo", 4, 13, "params/C"),
    Case("yaml-bad-int-tag", doc("""
        nascompile: 1
        name: t
        input: [3, 32, 32]
        params: {C: !!int abc}
        network:
          nodes:
            stem: input | conv(C, 3)
        """), "abc", 4, 13, "params/C"),
    Case("yaml-control-character", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            a: stem | relu\x00
        """), ("invalid YAML", "#x0000"), 8, 19),

    # ---- JSON ----------------------------------------------------------------------------
    Case("json-missing-comma", doc("""
        {
          "nascompile": 1,
          "name": "t"
          "input": [3, 32, 32],
          "network": {"nodes": {"stem": "input | conv(16, 3)"}}
        }
        """), ("invalid JSON", "','"), 4, 3, file="space.json"),
    Case("json-trailing-comma", doc("""
        {
          "nascompile": 1,
          "name": "t",
          "input": [3, 32, 32],
          "network": {"nodes": {"stem": "input | conv(16, 3)",}}
        }
        """), "invalid JSON", 5, 55, file="space.json"),
    Case("json-duplicate-key", doc("""
        {
          "nascompile": 1,
          "name": "t",
          "name": "u",
          "input": [3, 32, 32],
          "network": {"nodes": {"stem": "input | conv(16, 3)"}}
        }
        """), ("duplicate key 'name'", "first defined on line 3"), 4, 3, "name", file="space.json"),
    Case("json-schema-input-type", doc("""
        {
          "nascompile": 1,
          "name": "t",
          "input": "3x32x32",
          "network": {"nodes": {"stem": "input | conv(16, 3)"}}
        }
        """), "is not of type 'array'", 4, 12, "input", file="space.json"),
    Case("json-unknown-name-located-in-string", doc("""
        {
          "nascompile": 1,
          "name": "t",
          "input": [3, 32, 32],
          "network": {
            "nodes": {
              "stem": "input | conv(16, 3)",
              "head": "stem | relx"
            }
          }
        }
        """), "unknown name 'relx'", 8, 23, "network/nodes/head", hint="did you mean 'relu'?",
         file="space.json"),

    # ---- schema --------------------------------------------------------------------------
    Case("schema-missing-name", doc("""
        nascompile: 1
        input: [3, 32, 32]
        network:
          nodes:
            stem: input | conv(16, 3)
        """), "missing 'name'", 1, 1),
    Case("schema-unknown-top-level-key", HEAD + doc("""
        netwrok:
          nodes: {a: input}
        network:
          nodes:
            stem: input | conv(C, 3)
        """), "unknown key 'netwrok'", 5, 1),
    Case("schema-unknown-key-in-network", doc("""
        nascompile: 1
        name: t
        input: [3, 32, 32]
        network:
          nodes:
            stem: input | conv(16, 3)
          outptu: stem
        """), "unknown key 'outptu'", 7, 3),
    Case("schema-unknown-key-in-cell", HEAD + doc("""
        cells:
          blk:
            inputs: [x]
            node:
              z: x | relu
            nodes:
              z: x | relu
        network:
          nodes:
            stem: input | conv(C, 3)
        """), "unknown key 'node'", 8, 5),
    Case("schema-input-not-a-list", doc("""
        nascompile: 1
        name: t
        input: 32
        network:
          nodes:
            stem: input | conv(16, 3)
        """), "is not of type 'array'", 3, 8, "input"),
    Case("schema-input-item-string", doc("""
        nascompile: 1
        name: t
        input: [3, '32', 32]
        network:
          nodes:
            stem: input | conv(16, 3)
        """), "'32' must name an integer parameter", 3, 12, "input/1"),
    Case("schema-input-item-zero", doc("""
        nascompile: 1
        name: t
        input: [3, 0, 32]
        network:
          nodes:
            stem: input | conv(16, 3)
        """), "less than the minimum of 1", 3, 12, "input/1"),
    Case("schema-bad-name", doc("""
        nascompile: 1
        name: 'my space'
        input: [3, 32, 32]
        network:
          nodes:
            stem: input | conv(16, 3)
        """), "does not match", 2, 7, "name"),
    Case("schema-wrong-format-version", doc("""
        nascompile: 2
        name: t
        input: [3, 32, 32]
        network:
          nodes:
            stem: input | conv(16, 3)
        """), "1 was expected", 1, 13, "nascompile"),
    Case("schema-node-spec-unknown-key", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            rep:
              repeat: 2
              dox: relu
        """), "'dox'", 10, 7),
    Case("schema-node-spec-list", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            head: [stem]
        """), "is not of type", 8, 11, "network/nodes/head"),

    # ---- expression syntax: the column of the offending token inside the scalar -----------
    Case("expr-extra-paren", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3))
        """), "unexpected ')'", 7, 29, "network/nodes/stem"),
    Case("expr-missing-comma-in-quoted-scalar", HEAD + doc("""
        network:
          nodes:
            stem: 'input | conv(C 3)'
        """), "unexpected '3'", 7, 27, "network/nodes/stem"),
    Case("expr-ends-early", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3) |
        """), "ends too early", 7, 30, "network/nodes/stem"),
    Case("expr-bad-character", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3) $ 2
        """), "unexpected character '$'", 7, 30, "network/nodes/stem"),
    Case("expr-in-flow-mapping", HEAD + doc("""
        network:
          nodes: {stem: 'input | conv(C 3)'}
        """), "unexpected '3'", 6, 33, "network/nodes/stem"),
    Case("expr-syntax-in-def-body", HEAD + doc("""
        defs:
          blk(C): conv(C, 3) || bn
        network:
          nodes:
            stem: input | blk(C)
        """), "unexpected '|'", 6, 23, "defs/blk(C)"),
    Case("expr-syntax-in-def-signature", HEAD + doc("""
        defs:
          blk(C,, k): conv(C, k)
        network:
          nodes:
            stem: input | blk(C)
        """), "unexpected ','", 6, 9),
    Case("expr-syntax-in-for-clause", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            c:
              for: i range(3)
              do: stem | relu
        """), "unexpected 'range'", 9, 14, "network/nodes/c/for"),
    # multi-line scalars: positions on the second line count from the document's column 1
    Case("expr-syntax-in-folded-block-continuation", HEAD + doc("""
        network:
          nodes:
            stem: >-
              input | conv(C, 3)
                    | bn | )
        """), "unexpected ')'", 9, 20, "network/nodes/stem"),
    Case("unknown-name-in-folded-block-second-line", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            a: >-
              stem | conv(C, 3)
              | bn | relx
        """), "unknown name 'relx'", 10, 14, "network/nodes/a", hint="did you mean 'relu'?"),
    Case("unknown-name-in-plain-multiline-scalar", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            a: stem | conv(C, 3)
              | bn | relx
        """), "unknown name 'relx'", 9, 14, "network/nodes/a", hint="did you mean 'relu'?"),
    Case("unknown-name-in-literal-block", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            a: |
              stem | conv(C, 3)
              | bn | relx
        """), "unknown name 'relx'", 10, 14, "network/nodes/a", hint="did you mean 'relu'?"),

    # ---- names ---------------------------------------------------------------------------
    Case("unknown-op-did-you-mean", HEAD + doc("""
        network:
          nodes:
            stem: input | conw(C, 3)
        """), "unknown name 'conw'", 7, 19, "network/nodes/stem", hint="did you mean 'conv'?"),
    Case("misspelled-param", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(CC, 3)
        """), "unknown name 'CC'", 7, 24, "network/nodes/stem", hint="did you mean 'C'?"),
    Case("misspelled-node", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            head: stme | bn
        """), "unknown name 'stme'", 8, 11, "network/nodes/head", hint="did you mean 'stem'?"),
    Case("misspelled-node-in-output", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
          output: stm
        """), "unknown name 'stm'", 8, 11, "network/output", hint="did you mean 'stem'?"),
    Case("unknown-op-argument", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, kernal=3)
        """), "op 'conv' has no argument 'kernal'", 7, 19, "network/nodes/stem",
         hint="did you mean 'kernel'?"),
    Case("unknown-input-choice-argument", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            a: stem | relu
            b: input_choice([stem, a], n_chosn=1)
        """), "input_choice has no argument 'n_chosn'", 9, 8, "network/nodes/b",
         hint="did you mean 'n_chosen'?"),
    Case("unknown-reduction", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            a: stem | relu
            b: input_choice([stem, a], reduction="summ")
        """), "unknown reduction 'summ'", 9, 8, "network/nodes/b", hint="did you mean 'sum'?"),
    Case("node-named-like-param", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            C: stem | bn
        """), ("duplicate definition of 'C'", "parameter"), 8, 5, "network/nodes/C"),
    Case("two-defs-same-name", HEAD + doc("""
        defs:
          blk(C): conv(C, 3) | bn
          blk(C, k): conv(C, k) | bn
        network:
          nodes:
            stem: input | blk(C)
        """), "duplicate definition of 'blk'", 7, 3),
    Case("cell-named-like-def", HEAD + doc("""
        defs:
          blk(C): conv(C, 3)
        cells:
          blk:
            inputs: [x]
            nodes:
              z: x | relu
        network:
          nodes:
            stem: input | conv(C, 3)
        """), "duplicate definition of 'blk'", 8, 3, "cells/blk"),
    Case("node-shadows-op", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            relu: stem | bn
        """), "would hide the op 'relu'", 8, 5, "network/nodes/relu"),
    Case("reserved-param-name", doc("""
        nascompile: 1
        name: t
        input: [3, 32, 32]
        params: {search: 1}
        network:
          nodes:
            stem: input | conv(16, 3)
        """), "'search' is a reserved name", 4, 10, "params/search"),
    Case("reference-to-later-node", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            a: b | bn
            b: stem | relu
        """), "'b' is defined later", 8, 8, "network/nodes/a"),
    Case("node-uses-itself", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            a: stem + a
        """), "node 'a' uses itself", 8, 15, "network/nodes/a"),
    Case("recursive-def", HEAD + doc("""
        defs:
          f(n): f(n)
        network:
          nodes:
            stem: input | conv(f(1), 3)
        """), "recurs", 6, 9),
    Case("recursive-cell", HEAD + doc("""
        cells:
          blk:
            inputs: [x]
            nodes:
              z: x | blk()
        network:
          nodes:
            stem: input | conv(C, 3)
            a: stem | blk()
        """), "recurs", 9, 14, "cells/blk/nodes/z"),

    # ---- choices ---------------------------------------------------------------------------
    Case("input-choice-more-than-candidates", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            a: stem | relu
            b: input_choice([stem, a], n_chosen=3)
        """), "asks for 3 inputs but has only 2 candidates", 9, 8, "network/nodes/b"),
    Case("input-choice-no-candidates", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            b: input_choice([], n_chosen=1)
        """), "input_choice has no candidates", 8, 8, "network/nodes/b"),
    Case("empty-choice", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            b: stem | choice()
        """), "empty choice", 8, 15, "network/nodes/b"),
    Case("choice-candidates-different-shapes", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            b: stem | choice(conv(C, 3), conv(2 * C, 3))
        """), ("give different output shapes", "(16, 32, 32)", "(32, 32, 32)"), 8, 15,
         "network/nodes/b"),
    Case("label-reused-for-different-choices", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            a: stem | choice(conv(C, 3), conv(C, 5), label="op")
            b: a | choice(relu, bn, label="op")
        """), ("label 'op' names two different choices", "space.yaml:8:15"), 9, 12, "network/nodes/b"),
    Case("value-label-reused-for-different-values", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            a: stem | conv(choice(16, 32, label="w"), 3)
            b: a | conv(choice(8, 16, label="w"), 1)
        """), "label 'w' names two different choices", 9, 17, "network/nodes/b"),
    Case("value-choice-for-structural-arg", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            s: stem | skip_connect(stride=choice(1, 2))
        """), ("'stride'", "cannot depend on a choice"), 8, 15, "network/nodes/s"),
    Case("value-choice-as-op", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            a: stem | choice(16, 32)
        """), "expected an op, got a choice-dependent value", 8, 15, "network/nodes/a"),
    Case("repeat-depth-choice-skips-shape-changing-block", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            st:
              repeat: 3
              depth: choice(1, 2, 3)
              do: conv(C * 2 ** k, 3)
        """), ("block 1 of repeat 'st' may be skipped", "(16, 32, 32)", "(32, 32, 32)"), 9, 7,
         "network/nodes/st"),
    Case("repeat-depth-out-of-range", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            st:
              repeat: 3
              depth: choice(1, 5)
              do: relu
        """), "depth 5 is not between 0 and the 3 blocks", 10, 14, "network/nodes/st/depth"),
    Case("repeat-zero-blocks", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            st:
              repeat: 0
              do: relu
        """), "repeat needs a positive number of blocks", 9, 15, "network/nodes/st/repeat"),

    # ---- shapes ----------------------------------------------------------------------------
    Case("add-channel-mismatch", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            a: stem | conv(2 * C, 1)
            b: stem + a
        """), ("different shapes", "(16, 32, 32)", "(32, 32, 32)"), 9, 8, "network/nodes/b"),
    Case("concat-spatial-mismatch", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            a: stem | max_pool(3, 2)
            b: concat(stem, a)
        """), ("concat", "(16, 32, 32)", "(16, 16, 16)", "differ beyond channels"), 9, 8,
         "network/nodes/b"),
    Case("kernel-bigger-than-input", doc("""
        nascompile: 1
        name: t
        input: [3, 4, 4]
        network:
          nodes:
            stem: input | conv(8, 7, padding=0)
        """), "too small for kernel 7", 6, 19, "network/nodes/stem"),
    Case("conv-on-feature-vector", doc("""
        nascompile: 1
        name: t
        input: [10]
        network:
          nodes:
            stem: input | conv(16, 3)
        """), "op 'conv' cannot take an input of shape", 6, 19, "network/nodes/stem"),
    Case("linear-on-image", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            a: stem | linear(10)
        """), "op 'linear' cannot take an input of shape (16, 32, 32)", 8, 15, "network/nodes/a"),
    Case("groups-do-not-divide-channels", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            a: stem | conv(C, 3, groups=5)
        """), "not divisible by groups=5", 8, 15, "network/nodes/a"),

    # ---- argument values ---------------------------------------------------------------------
    Case("negative-kernel", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, -3)
        """), ("'kernel'", "positive integer", "-3"), 7, 19, "network/nodes/stem"),
    Case("dropout-probability-above-one", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            d: stem | dropout(p=1.5)
        """), ("'p' of op 'dropout'", "1.5"), 8, 15, "network/nodes/d"),
    Case("non-integer-channels", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C / 2, 3)
        """), ("'out' of op 'conv'", "positive integer", "8.0"), 7, 19, "network/nodes/stem"),
    Case("division-by-zero", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            a: stem | conv(C // 0, 3)
        """), "by zero", 8, 20, "network/nodes/a"),
    Case("division-by-zero-for-some-choice", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            a: stem | conv(C % choice(0, 1) + 1, 3)
        """), "by zero", 8, 15, "network/nodes/a"),
    Case("make-divisible-of-string", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            a: stem | conv(make_divisible('a'), 3)
        """), "make_divisible", 8, 20, "network/nodes/a"),
    Case("tensor-in-arithmetic", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            a: stem * 2
        """), ("cannot use a tensor", "arithmetic"), 8, 8, "network/nodes/a"),

    # ---- parameters and --set ----------------------------------------------------------------
    Case("set-unknown-parameter", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
        """), "--set CC: the document has no parameter 'CC'", 4, 9, "params",
         hint="did you mean 'C'?", overrides={"CC": 3}),
    Case("set-wrong-type", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
        """), ("--set C='abc'", "expected a number"), 4, 13, "params/C", overrides={"C": "abc"}),

    # ---- conditions ----------------------------------------------------------------------------
    Case("if-condition-not-boolean", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            a:
              if: C
              do: stem | relu
        """), "a condition must be true or false, got a number", 9, 11, "network/nodes/a/if"),
    Case("reference-to-node-whose-if-is-false", HEAD + doc("""
        network:
          nodes:
            stem: input | conv(C, 3)
            a:
              if: C > 100
              do: stem | relu
            b: a | bn
        """), ("node 'a' does not exist here", "C > 100"), 11, 8, "network/nodes/b"),

    # ---- cells and defs --------------------------------------------------------------------------
    Case("cell-called-with-too-few-inputs", HEAD + doc("""
        cells:
          blk:
            params: [C]
            inputs: [x, y]
            nodes:
              z: x + y
        network:
          nodes:
            stem: input | conv(C, 3)
            a: blk(stem, C=C)
        """), "cell 'blk' takes 2 inputs (x, y), got 1", 14, 8, "network/nodes/a"),
    Case("cell-called-with-too-many-inputs", HEAD + doc("""
        cells:
          blk:
            params: [C]
            inputs: [x, y]
            nodes:
              z: x + y
        network:
          nodes:
            stem: input | conv(C, 3)
            a: blk(stem, stem, stem, C=C)
        """), "cell 'blk' takes 2 inputs (x, y), got 3", 14, 8, "network/nodes/a"),
    Case("two-input-cell-used-as-op", HEAD + doc("""
        cells:
          blk:
            inputs: [x, y]
            nodes:
              z: x + y
        network:
          nodes:
            stem: input | conv(C, 3)
            a: stem | blk()
        """), "cell 'blk' has 2 inputs", 13, 15, "network/nodes/a"),
    Case("unknown-cell-parameter", HEAD + doc("""
        cells:
          blk:
            params: [C]
            inputs: [x]
            nodes:
              z: x | conv(C, 3)
        network:
          nodes:
            stem: input | conv(C, 3)
            a: stem | blk(CC=C)
        """), "cell 'blk' has no parameter 'CC'", 14, 15, "network/nodes/a", hint="did you mean 'C'?"),
    Case("mistake-inside-cell-body", HEAD + doc("""
        cells:
          blk:
            params: [C]
            inputs: [x]
            nodes:
              z: x | conv(C, 3) | bnn
        network:
          nodes:
            stem: input | conv(C, 3)
            a: stem | blk(C)
        """), "unknown name 'bnn'", 10, 27, "cells/blk/nodes/z", hint="did you mean 'bn'?"),
    Case("def-missing-argument", HEAD + doc("""
        defs:
          blk(C, k): conv(C, k) | bn
        network:
          nodes:
            stem: input | blk(C)
        """), "def 'blk' needs argument 'k'", 9, 19, "network/nodes/stem"),
    Case("mistake-inside-def-body", HEAD + doc("""
        defs:
          blk(C): conv(C, 3) | bnn
        network:
          nodes:
            stem: input | blk(C)
        """), "unknown name 'bnn'", 6, 24, "defs/blk(C)", hint="did you mean 'bn'?"),

    # ---- imports ---------------------------------------------------------------------------------
    Case("import-missing-module", HEAD + doc("""
        imports:
          myop: "no_such_module_xyz.blocks:Block"
        network:
          nodes:
            stem: input | conv(C, 3)
        """), ("cannot import 'no_such_module_xyz.blocks:Block'", "no_such_module_xyz"), 6, 9,
         "imports/myop"),
    Case("import-missing-attribute", HEAD + doc("""
        imports:
          myop: "os:no_such_attribute"
        network:
          nodes:
            stem: input | conv(C, 3)
        """), ("cannot import 'os:no_such_attribute'", "no_such_attribute"), 6, 9, "imports/myop"),
    Case("import-not-a-class", HEAD + doc("""
        imports:
          myop: "os:sep"
        network:
          nodes:
            stem: input | conv(C, 3)
        """), "must name an nn.Module or nascompile Op class", 6, 9, "imports/myop"),
]


def _error_of(case: Case) -> NasError:
    try:  # the cases about imports opt in to importing (without it, each import is refused)
        compile_text(case.text, file=case.file, overrides=case.overrides, allow_imports="imports:" in case.text)
    except NasError as err:
        return err
    # any other exception propagates and fails the test: it is a crash, not a user error
    pytest.fail(f"{case.id}: the document compiled without an error")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_broken_document(case: Case):
    err = _error_of(case)
    assert not isinstance(err, ErrorGroup), (
        f"one mistake must give one error, got {len(err.errors)}:\n{err}")
    rendered = str(err)
    for part in (case.message if isinstance(case.message, tuple) else (case.message,)):
        assert part in err.message, f"{part!r} not in message: {rendered}"
    if case.hint is not None:
        assert err.hint and case.hint in err.hint, f"hint {case.hint!r} missing: {rendered}"
    assert (err.loc.file, err.loc.line, err.loc.col) == (case.file, case.line, case.col), rendered
    if case.path is not None:
        assert err.loc.path == case.path, rendered
    assert "\n" not in rendered, f"an error must print as one line: {rendered!r}"
    assert rendered.startswith(f"{case.file}:{case.line}:{case.col}: "), rendered


def test_corpus_is_large_and_distinct():
    assert len(CASES) >= 45
    assert len({c.id for c in CASES}) == len(CASES)
    assert len({c.text + repr(c.overrides) for c in CASES}) == len(CASES)


# ---- several independent mistakes ------------------------------------------------------------

THREE_MISTAKES = HEAD + doc("""
    network:
      nodes:
        stem: input | conw(C, 3)
        a: input | conv(C, kernal=3)
        b: input | dropout(p=1.5)
        c: input | conv(C, 3)
    """)


def test_three_independent_mistakes_are_all_reported():
    with pytest.raises(ErrorGroup) as info:
        compile_text(THREE_MISTAKES, file="space.yaml")
    errors = info.value.errors
    assert len(errors) == 3, str(info.value)
    got = [(e.loc.line, e.loc.col, e.loc.path) for e in errors]
    assert got == [(7, 19, "network/nodes/stem"), (8, 16, "network/nodes/a"),
                   (9, 16, "network/nodes/b")], got
    assert "unknown name 'conw'" in errors[0].message and "'conv'" in errors[0].hint
    assert "no argument 'kernal'" in errors[1].message and "'kernel'" in errors[1].hint
    assert "'p' of op 'dropout'" in errors[2].message
    assert all(e.loc.file == "space.yaml" for e in errors)
    lines = str(info.value).splitlines()
    assert lines == [str(e) for e in errors]


def test_mistake_downstream_of_a_failed_node_is_not_reported_twice():
    text = HEAD + doc("""
        network:
          nodes:
            stem: input | conw(C, 3)
            a: stem | relu
            b: a | bn
        """)
    with pytest.raises(NasError) as info:
        compile_text(text, file="space.yaml")
    err = info.value
    assert not isinstance(err, ErrorGroup), str(err)
    assert (err.loc.line, err.loc.col) == (7, 19)


def test_three_schema_mistakes_are_all_reported():
    text = doc("""
        nascompile: 1
        name: 'my space'
        input: [3, 0]
        network:
          nodes:
            stem: input | conv(16, 3)
          outptu: stem
        """)
    with pytest.raises(ErrorGroup) as info:
        compile_text(text, file="space.yaml")
    got = [(e.loc.line, e.loc.col) for e in info.value.errors]
    assert got == [(2, 7), (3, 12), (7, 3)], str(info.value)


# ---- the command line ------------------------------------------------------------------------


def _cli(*args, timeout=60, limit_memory=False):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")

    def limits():  # pragma: no cover - runs in the child
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    return subprocess.run([sys.executable, "-m", "nascompile", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=timeout,
                          preexec_fn=limits if limit_memory else None)


def test_cli_prints_one_line_per_error_and_exits_2(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(THREE_MISTAKES)
    proc = _cli("build", str(path), "--check")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 3, proc.stderr
    pattern = re.compile(re.escape(str(path)) + r":(\d+):(\d+): ")
    where = []
    for line in lines:
        m = pattern.match(line)
        assert m, f"not FILE:LINE:COL: ...: {line!r}"
        where.append((int(m.group(1)), int(m.group(2))))
    assert where == [(7, 19), (8, 16), (9, 16)]
    assert "did you mean 'conv'?" in lines[0]
    assert "[at network/nodes/stem]" in lines[0]
    assert "ok:" not in proc.stdout


def test_cli_debug_shows_the_traceback(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(THREE_MISTAKES)
    proc = _cli("build", "--debug", str(path), "--check")
    assert proc.returncode not in (0, 2), proc.stderr
    assert "Traceback" in proc.stderr
    assert "ErrorGroup" in proc.stderr


def test_cli_single_error_with_set(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(HEAD + "network:\n  nodes:\n    stem: input | conv(C, 3)\n")
    proc = _cli("build", str(path), "--check", "--set", "CC=3")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        f"{path}:4:9: --set CC: the document has no parameter 'CC' (did you mean 'C'?) [at params]"]


def test_cli_valid_document_exits_0(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(HEAD + "network:\n  nodes:\n    stem: input | conv(C, 3)\n")
    proc = _cli("build", str(path), "--check")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "ok: the space is valid" in proc.stdout


# Documents that would take the compiler's time or memory without bound. A user must get an
# error (exit 2, located lines), not a hang, a MemoryError or a traceback. They run in a child
# process with a time limit and a 4 GiB address-space limit so a bug cannot hurt the test run.
_STEM = HEAD + "network:\n  nodes:\n    stem: input | conv(C, 3)\n"
BOMBS = [
    # (id, document, line and column of the first error, a word its message must contain)
    ("huge-power", _STEM + "    a: stem | conv(10 ** 10 ** 10, 3)\n", 8, 20, ""),
    ("huge-list", _STEM + "    a: stem | conv(len([1] * 10 ** 10), 3)\n", 8, 24, ""),
    # a cell that contains itself in two independent nodes: each level of the (endless)
    # expansion doubles, so a depth limit alone never ends; the cycle itself is the error
    ("cell-contains-itself-twice", HEAD + doc("""
        cells:
          blk:
            inputs: [x]
            nodes:
              y: x | choice(relu, blk())
              z: x | choice(relu, blk())
        network:
          nodes:
            stem: input | conv(C, 3)
            a: stem | blk()
        """), 9, 27, "blk"),
]


@pytest.mark.parametrize("text,line,col,word", [b[1:] for b in BOMBS], ids=[b[0] for b in BOMBS])
def test_resource_bombs_are_errors(tmp_path, text, line, col, word):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    try:
        proc = _cli("build", str(path), "--check", timeout=15, limit_memory=True)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the compiler did not finish within 15 s on:\n{text}")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert lines and lines[0].startswith(f"{path}:{line}:{col}: "), proc.stderr
    assert word in lines[0], proc.stderr
    assert all(re.match(re.escape(str(path)) + r":\d+:\d+: ", ln) for ln in lines), proc.stderr
