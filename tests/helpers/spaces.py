"""Example spaces and architectures the compiler and back-end tests share."""
from __future__ import annotations

from . import ROOT

__all__ = ["ROOT", "DARTS", "NB201", "MIXED", "DARTS_V2_NORMAL", "DARTS_V2_REDUCE", "darts_arch",
           "random_sample"]

DARTS = ROOT / "zoo" / "darts.yaml"
NB201 = ROOT / "zoo" / "nasbench201.yaml"

DARTS_V2_NORMAL = [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
                   ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)]
DARTS_V2_REDUCE = [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
                   ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)]


def darts_arch(normal=DARTS_V2_NORMAL, reduce=DARTS_V2_REDUCE) -> dict:
    """A DARTS genotype as an architecture JSON: node i takes the pairs 2i and 2i+1."""
    arch = {}
    for cell, genes in (("normal", normal), ("reduce", reduce)):
        states = ["s0", "s1", "node0", "node1", "node2"]
        for i in range(4):
            pair = genes[2 * i:2 * i + 2]
            arch[f"{cell}/node{i}"] = [states[j] for _, j in pair]
            for op, j in pair:
                arch[f"{cell}/node{i}/op{j}"] = op
    return arch


MIXED = """
nascompile: 1
name: mixed
input: [3, 16, 16]
params: {C: 8, classes: 5}
cells:
  blk:
    params: [C]
    inputs: [x]
    nodes:
      a: x | choice(conv3=conv(C, 3, bias=false) | bn | relu, pool=max_pool(3), skip=identity())
network:
  nodes:
    stem: input | conv(choice(8, 16, label="width"), 3) | bn
    left: stem | relu_conv_bn(C, 1)
    right: stem | sep_conv(C, 3)
    mid: stem | dil_conv(C, 3)
    join: 'input_choice([left, right, mid], n_chosen=null, reduction="concat")'
    squeeze: join | relu_conv_bn(C, 1)
    avg: 'input_choice([left, squeeze], n_chosen=2, reduction="mean")'
    stage:
      repeat: 3
      depth: choice(0, 1, 3)
      do: blk(C)
    head: stage | global_avg_pool | linear(classes)
"""


def random_sample(space, rng) -> dict:
    """Every label, uniformly; an input choice never takes the empty set (no fixed network)."""
    return {label: rng.choice([v for v in d.domain() if v != ()]) for label, d in space.decisions.items()}
