"""Conditions that depend on choices, checked for every value the choices can take."""
from __future__ import annotations

from ..errors import LimitError, SpaceError
from ..ir.samples import assignments
from ..ir.values import Sym, evaluate, is_sym, labels_of

MAX_CHECKS = 150_000  # evaluations of choice-dependent conditions and shapes in one document


def _describe(sample) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in sorted(sample.items()))


class ChoiceChecker:
    """The ``ctx`` op rules receive: ``require`` holds a condition for all samples or raises."""

    def __init__(self, decisions):
        self.decisions = decisions  # label -> Decision
        self.checks = 0  # evaluations so far (MAX_CHECKS)

    def _samples(self, labels):
        for sample in assignments(labels, self.decisions):
            self.checks += 1
            if self.checks > MAX_CHECKS:
                raise LimitError(f"the space's choice-dependent shapes and conditions take too long to check "
                                 f"(over {MAX_CHECKS:,} evaluations)",
                                 hint="make fewer values depend on several value choices at once")
            yield sample

    def require(self, cond, message: str) -> None:
        if not is_sym(cond):
            if not cond:
                raise SpaceError(message)
            return
        for sample in self._samples(labels_of(cond)):
            if not _evaluate(cond, sample):
                raise SpaceError(f"{message} when {_describe(sample)}")

    def require_each(self, value, check, message: str) -> None:
        for sample in self._samples(labels_of(value)):
            v = _evaluate(value, sample)
            if not check(v):
                raise SpaceError(f"{message}, got {v!r} when {_describe(sample)}")

    def same_shape(self, a, b) -> bool:
        """Whether shapes ``a`` and ``b`` agree for every sample."""
        if len(a) != len(b):
            return False
        for x, y in zip(a, b):
            if not is_sym(x) and not is_sym(y):
                if x != y:
                    return False
                continue
            if isinstance(x, Sym) and isinstance(y, Sym) and x == y:
                continue  # one expression: equal for every sample
            for sample in self._samples(labels_of((x, y))):
                if _evaluate(x, sample) != _evaluate(y, sample):
                    return False
        return True


def _evaluate(x, sample):
    """``evaluate``, with arithmetic that fails for some choice reported as the user's mistake."""
    try:
        return evaluate(x, sample)
    except (ZeroDivisionError, TypeError, ValueError, OverflowError) as err:
        raise SpaceError(f"invalid arithmetic when {_describe(sample)}: {str(err)[:200]}") from None
