"""The op registry and the built-in ops."""
from .registry import OPS, Args, Op, Param, REQUIRED, code_form, get_op, list_ops, register

__all__ = ["OPS", "Args", "Op", "Param", "REQUIRED", "code_form", "get_op", "list_ops", "register"]
from . import builtin  # noqa: E402,F401  (registers every built-in op; after the registry exists)
