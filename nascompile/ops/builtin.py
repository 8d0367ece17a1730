"""Importing this module registers every built-in op."""
from . import basic, conv, merge, mobile, nb101, nds, shuffle, transformer  # noqa: F401
