"""Weight inheritance: a trained supernet's weights of one path, copied into its pruned module.

``inherit_weights(fixed, supernet, sample)`` copies every parameter and buffer (BN running
statistics included) that the architecture ``sample`` uses from ``supernet`` into ``fixed``.

Which IR the pruned module comes from: **the supernet's own graph**, ``supernet.graph``, i.e.
``build_fixed(freeze(supernet.graph, sample), space.ops)`` (:func:`extract_fixed` does exactly
that). For a search supernet (``build_supernet(space)``) this is ``space.search_graph``, and then
the copy is exact: in eval mode the pruned module computes what the supernet computes with that
path sampled. The evaluation network of a space (``space.graph``) may differ from its search
network: DARTS's search network has non-affine BN and a BN after each pool, its evaluation
network affine BN and bare pools, so no weights of a DARTS search supernet *are* weights of the
evaluation network; such a pruned module does not fit and is refused, naming the weights that
do not match. (Retrain the evaluation network from scratch, as DARTS does, or build the supernet
with ``search=False`` to inherit into ``space.graph``'s networks.)

Every weight of the pruned module must come from the supernet with the same shape, and every
weight of the path must have a place in the pruned module; anything else is a
:class:`~nascompile.errors.NasError`, never silently skipped.

>>> net = build_supernet(space)                                         # doctest: +SKIP
>>> sub = extract_fixed(net, {"cell/0_1": "conv_3x3", ...})   # doctest: +SKIP
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..arch import load_arch, normalize_arch
from ..errors import Loc, NasError
from ..ir.graph import Graph
from ..passes.freeze import freeze, used_labels
from .fixed import build_fixed
from .naming import module_names
from .block_op import BlockOp
from .supernet import Supernet
from .value_op import ChoiceOp

__all__ = ["inherit_weights", "extract_fixed", "weight_map"]

_HINT = ("build the pruned module from the supernet's own graph: build_fixed(freeze(supernet.graph, "
         "sample), space.ops), or use extract_fixed(supernet, sample). A search supernet "
         "(search=True) is built from space.search_graph, whose ops may differ from space.graph's "
         "(DARTS: non-affine BN, a BN after pools), so its weights cannot be inherited exactly by "
         "the evaluation network")


def _sample(supernet: Supernet, arch) -> tuple[dict, str]:
    data, source = load_arch(arch)
    data = {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}
    sample = normalize_arch(data, supernet.graph.decisions, source,
                            required=lambda s: used_labels(supernet.graph, s))
    return sample, source


def _frozen(supernet: Supernet, sample: dict, source: str) -> tuple[Graph, dict]:
    origins: dict = {}
    return freeze(supernet.graph, sample, source, origins=origins), origins


def extract_fixed(supernet: Supernet, arch) -> nn.Module:
    """The pruned module of ``arch`` (a canonical sample, an architecture dict or a JSON path)
    frozen from ``supernet.graph``, holding the supernet's weights of that path, on the
    supernet's device."""
    _check_supernet(supernet)
    sample, source = _sample(supernet, arch)
    frozen, origins = _frozen(supernet, sample, source)
    fixed = build_fixed(frozen, getattr(supernet, "ops", None))
    weight = next(supernet.parameters(), None)
    if weight is not None:
        fixed.to(weight.device)
    _copy(fixed, supernet, _map(frozen, origins, supernet, sample), source)
    return fixed


def inherit_weights(fixed_module: nn.Module, supernet: Supernet, arch) -> nn.Module:
    """Copy the weights of the path ``arch`` from ``supernet`` into ``fixed_module`` (built by
    :func:`~.fixed.build_fixed` from ``freeze(supernet.graph, sample)``); returns it.

    Raises :class:`NasError` when a weight of either side has no counterpart or the shapes
    differ (e.g. a module frozen from ``space.graph`` while the supernet is a DARTS search
    supernet); nothing is copied then.
    """
    _check_supernet(supernet)
    sample, source = _sample(supernet, arch)
    frozen, origins = _frozen(supernet, sample, source)
    _copy(fixed_module, supernet, _map(frozen, origins, supernet, sample), source)
    return fixed_module


def weight_map(supernet: Supernet, arch) -> dict[str, str]:
    """``{state_dict key of the pruned module: state_dict key of the supernet}`` for ``arch``."""
    _check_supernet(supernet)
    sample, source = _sample(supernet, arch)
    frozen, origins = _frozen(supernet, sample, source)
    names = {id(m): n for n, m in supernet.named_modules(remove_duplicate=False)}
    return {key: f"{names[id(module)]}.{k}" for key, (module, k) in _map(frozen, origins, supernet, sample).items()}


def _check_supernet(supernet) -> None:
    if not isinstance(supernet, Supernet):
        raise NasError(f"inherit from a supernet built by build_supernet, got {type(supernet).__name__}",
                       Loc("<model>"))


def _map(frozen: Graph, origins: dict, supernet: Supernet, sample: dict) -> dict:
    """``{key in the pruned module: (supernet module, its key)}`` for every weight of the path."""
    out: dict = {}

    def walk(graph: Graph, path: str, prefix: str) -> None:
        names = module_names(graph)
        for node in graph:
            here = f"{path}{node.name}"
            if node.kind == "cell":
                walk(node.regions[0], f"{here}/body/", f"{prefix}{names[node.name]}.")
            elif node.kind == "call":
                module = supernet.sources.get(origins.get(here))
                if module is None:
                    continue  # a reduction made from an input choice: it holds no weights
                if isinstance(module, (ChoiceOp, BlockOp)):
                    module = module.variant(sample)
                for k in module.state_dict():
                    out[f"{prefix}{names[node.name]}.{k}"] = (module, k)

    walk(frozen, "", "")
    return out


def _copy(fixed: nn.Module, supernet: Supernet, mapping: dict, source: str) -> None:
    target = fixed.state_dict(keep_vars=True)
    extra = [k for k in target if k not in mapping]  # in module order: the first mismatch first
    missing = [k for k in mapping if k not in target]
    if extra or missing:
        parts = []
        if extra:
            parts.append(f"the pruned module has {len(extra)} weight(s) the supernet's path lacks "
                         f"({_few(extra)})")
        if missing:
            parts.append(f"it lacks {len(missing)} weight(s) of the path ({_few(missing)})")
        raise NasError("the pruned module does not fit the supernet under this architecture: "
                       + "; ".join(parts), Loc(source), hint=_HINT)
    states = {}
    for key, (module, k) in mapping.items():
        states.setdefault(id(module), module.state_dict(keep_vars=True))
        src = states[id(module)][k]
        if tuple(src.shape) != tuple(target[key].shape) or src.dtype != target[key].dtype:
            raise NasError(f"the weight '{key}' of the pruned module is {tuple(target[key].shape)} "
                           f"{target[key].dtype}, the supernet's is {tuple(src.shape)} {src.dtype}",
                           Loc(source), hint=_HINT)
    with torch.no_grad():
        for key, (module, k) in mapping.items():
            target[key].copy_(states[id(module)][k])


def _few(keys: list) -> str:
    return ", ".join(keys[:4]) + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")
