"""Importing this module registers every built-in op."""
from . import basic, conv, merge  # noqa: F401
