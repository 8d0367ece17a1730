"""``nni.nas.pytorch.fixed``: fix a model to an architecture (:mod:`nascompile.nn.fixed`: unused
candidates are pruned, all-false layer choices become parameter-free, NNI's numbered keys map).

As NNI's, :func:`apply_fixed_architecture` returns the :class:`FixedArchitecture` (the model is
changed in place; nascompile's own returns the model).
"""
from ...arch import load_arch
from ...nn.fixed import apply_arch

__all__ = ["FixedArchitecture", "apply_fixed_architecture"]


class FixedArchitecture:
    """What NNI's ``apply_fixed_architecture`` returned: the model and the architecture it is fixed to."""

    def __init__(self, model, fixed_arc: dict, strict: bool = True, verbose: bool = True):
        self.model, self.fixed_arc, self.strict, self.verbose = model, dict(fixed_arc), strict, verbose

    def sample_final(self) -> dict:
        return dict(self.fixed_arc)

    sample_search = export = sample_final


def apply_fixed_architecture(model, fixed_arc, verbose: bool = True) -> FixedArchitecture:
    """Fix ``model`` in place to ``fixed_arc`` (a JSON path or a dict)."""
    arch, source = load_arch(fixed_arc)
    apply_arch(model, arch, source, verbose=verbose)
    return FixedArchitecture(model, arch, verbose=verbose)
