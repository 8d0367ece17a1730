"""An architecture of a space <-> its paper string, through the converter that fits the space."""
from __future__ import annotations

from ..arch import encode_arch, load_arch, normalize_arch
from ..errors import Loc, NasError
from .converter import detect


def _space_error(space, err: NasError) -> NasError:
    if err.loc.file is None:
        err.loc = Loc(space.doc.file)
    return err


def arch_to_string(space, arch, name: str | None = None) -> str:
    """The paper string of an architecture JSON (a path or a dict) of ``space``; ``name`` picks
    the notation (default: the one that fits the space)."""
    from ..passes.freeze import used_labels

    try:
        conv = detect(space.decisions, name)
    except NasError as err:
        raise _space_error(space, err) from None
    data, source = load_arch(arch)
    sample = normalize_arch(data, space.decisions, source, required=lambda s: used_labels(space.graph, s))
    return conv.to_string(sample, space.decisions, source)


def arch_from_string(space, text: str, name: str, source: str | None = None) -> dict:
    """The architecture JSON (labels -> JSON values, as :func:`~nascompile.arch.encode_arch`
    writes them) that the string ``text`` in notation ``name`` spells for ``space``."""
    from ..passes.freeze import used_labels

    try:
        conv = detect(space.decisions, name)
    except NasError as err:
        raise _space_error(space, err) from None
    sample = conv.from_string(text, space.decisions, source)
    # what freezing will ask of it: every label the architecture uses is there
    normalize_arch(encode_arch(sample, space.decisions), space.decisions, source or f"<{conv.name}>",
                   required=lambda s: used_labels(space.graph, s))
    return encode_arch(sample, space.decisions)
