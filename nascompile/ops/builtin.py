"""Importing this module registers every built-in op."""
from . import basic, conv, merge, mobile, nds, shuffle, transformer  # noqa: F401
