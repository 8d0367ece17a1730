"""Architectures in the notations of NAS papers, and search spaces recorded from trial scripts.

A :class:`Converter` recognises a family of spaces by the labels of its decisions and turns a
canonical sample (see :func:`~nascompile.arch.normalize_arch`) into the paper's string and back.
The converters are registered in :data:`CONVERTERS`:

``genotype``  DARTS genotypes, for spaces labelled like ``zoo/darts.yaml``
              (:mod:`~nascompile.interop.genotype`)
``nb201``     NAS-Bench-201 strings, for spaces labelled like ``zoo/nasbench201.yaml``
              (:mod:`~nascompile.interop.nb201`)

:func:`arch_to_string` and :func:`arch_from_string` convert through the converter that fits a
space (:mod:`~nascompile.interop.arch_strings`). Strings are parsed, never evaluated; every
mistake is one :class:`~nascompile.errors.ArchError` with the column and the element
(``normal[5]``) it is about.

:func:`ss_gen` runs a hand-written model's trial command to record its NNI search space
(:mod:`~nascompile.interop.ssgen`).

>>> space = load_space("zoo/darts.yaml")                      # doctest: +SKIP
>>> arch = arch_from_string(space, str(DARTS_V2), "genotype")      # doctest: +SKIP
>>> arch_to_string(space, arch) == str(canonical_genotype(DARTS_V2))   # doctest: +SKIP
True
"""
from .arch_strings import arch_from_string, arch_to_string
from .converter import CONVERTERS, Converter, detect, register
# Importing the converters registers them, in the order detect() tries them.
from .genotype import DARTS_V2, DartsGenotype, Genotype, canonical_genotype, parse_genotype
from .nb201 import NasBench201, format_nb201, parse_nb201
from .ssgen import ss_gen

__all__ = ["Genotype", "DARTS_V2", "canonical_genotype", "parse_genotype", "parse_nb201", "format_nb201",
           "Converter", "CONVERTERS", "register", "DartsGenotype", "NasBench201", "detect",
           "arch_to_string", "arch_from_string", "ss_gen"]
