"""The op registry and the built-in ops."""
from .registry import REGISTRY, Args, Op, Param, REQUIRED, get_op, list_ops, register

__all__ = ["REGISTRY", "Args", "Op", "Param", "REQUIRED", "get_op", "list_ops", "register"]
