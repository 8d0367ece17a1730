"""One registry type for every extension point: ops, trainers, strategies, datasets, converters.

A :class:`Registry` maps a name to an entry. It refuses a second entry under a name it holds
(timm's registries overwrite silently; a plugin that shadows a built-in is a bug we want to
hear about), lists its names, and answers an unknown name with one error that lists what is
known and suggests the closest name. An entry may be given as a ``"module:attribute"`` string,
imported on first :meth:`~Registry.get` (trainers and strategies pull in torch or optuna, and
``nascompile build`` must not pay for them)::

    TRAINERS = Registry("search algorithm", loc="<algo>")
    TRAINERS.register("enas", "nascompile.oneshot.enas:EnasTrainer")

    @TRAINERS.register("mine")
    class MyTrainer(OneShotTrainer): ...

    TRAINERS.get("mine")        # the class
    TRAINERS.names()            # ['enas', 'mine']

:func:`load_user_target` is the one place a ``module:attribute`` that a user typed (``--algo
pkg.mod:Class``, ``--data pkg.mod:function``) or that a run folder recorded is imported, and
only with the opt-in of that command line (``allow=True``: ``--allow-imports``, or
``NASCOMPILE_ALLOW_IMPORTS=1``); without it the target is one error line saying what to pass.
:func:`load_target` imports without asking: for the lazy built-in entries of a registry.
"""
from __future__ import annotations

import importlib
from typing import Callable, Generic, Iterator, TypeVar

from .errors import IMPORTS_OPT_IN, Loc, NasError, did_you_mean

__all__ = ["Registry", "load_target", "load_user_target", "check_target", "refuse_import"]

T = TypeVar("T")
SHOWN = 20  # names listed in an "unknown name" error; more would not fit one line


class Registry(Generic[T]):
    """Name -> entry. ``kind`` names what is registered in error messages ("op", "dataset");
    unknown names raise ``error`` (a :class:`~nascompile.errors.NasError` class) at ``loc``.
    ``populate`` is called once before the first look-up (to import the built-in entries)."""

    def __init__(self, kind: str, error: type[NasError] = NasError, loc: str | None = None,
                 populate: Callable[[], object] | None = None):
        self.kind = kind
        self.error = error
        self.loc = loc
        self._entries: dict[str, object] = {}
        self._populate = populate

    # --- adding --------------------------------------------------------------------------------
    def register(self, name: str, entry=None):
        """Add ``entry`` under ``name``; without ``entry``, a decorator that adds what it decorates.
        A name is registered once: a different second entry is a ``ValueError`` (the same lazy
        target or object again is accepted, so re-importing a module is harmless)."""
        if entry is None:
            def decorate(obj):
                self._add(name, obj)
                return obj
            return decorate
        self._add(name, entry)
        return entry

    def _add(self, name: str, entry) -> None:
        self._ready()  # the built-ins first, so that a plugin cannot take a built-in's name
        if not isinstance(name, str) or not name:
            raise ValueError(f"{_article(self.kind)} {self.kind} needs a non-empty name, got {name!r}")
        known = self._entries.get(name)
        if known is not None and not _same(known, entry):
            raise ValueError(f"{_article(self.kind)} {self.kind} named '{name}' is registered already ({_describe(known)})")
        self._entries[name] = entry

    # --- looking up ----------------------------------------------------------------------------
    def _ready(self) -> None:
        if self._populate is not None:
            populate, self._populate = self._populate, None
            populate()

    def names(self, filter: str = "") -> list[str]:
        """The registered names containing ``filter``, in registration order."""
        self._ready()
        return [n for n in self._entries if filter in n]

    def __contains__(self, name) -> bool:
        self._ready()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def get(self, name: str) -> T:
        """The entry of ``name`` (a lazy target imported now); unknown: one error with the
        known names and the closest one."""
        self._ready()
        if name not in self._entries:
            raise self.unknown(name)
        entry = self._entries[name]
        if isinstance(entry, str):
            entry = load_target(entry, self.error, self.loc or f"<{self.kind}>", what=f"the '{name}' {self.kind}")
            self._entries[name] = entry
        return entry

    def unknown(self, name) -> NasError:
        """The error for a name that is not registered."""
        names = list(self._entries)
        known = ", ".join(names[:SHOWN]) + (f", ... ({len(names)} in all)" if len(names) > SHOWN else "") or "none"
        loc = Loc(self.loc) if self.loc else None
        return self.error(f"unknown {self.kind} '{name}' (known: {known})", loc,
                          hint=did_you_mean(name, self._entries))


def check_target(target: str, error: type[NasError] = NasError, loc: str = "<target>",
                 what: str | None = None) -> tuple[str, str]:
    """``(module, attribute)`` of ``"package.module:attribute"``; a malformed one is one ``error``."""
    module_name, sep, attr = str(target).partition(":")
    what = what or f"'{target}'"
    if not sep or not module_name or not attr:
        raise error(f"{what} is not of the form module:attribute", Loc(loc),
                    hint="e.g. mypkg.trainers:MyTrainer")
    return module_name, attr


def refuse_import(what: str, error: type[NasError] = NasError, loc=None) -> NasError:
    """The error for user code that this command line did not opt in to import."""
    return error(f"{what} is Python code and is not imported unless asked",
                 loc if isinstance(loc, Loc) else Loc(loc), hint=IMPORTS_OPT_IN)


def load_user_target(target: str, allow: bool, error: type[NasError] = NasError, loc: str = "<target>",
                     what: str | None = None):
    """:func:`load_target` of a target the user (or a run folder) named, only when ``allow``
    (the command line's opt-in); otherwise one ``error`` line saying how to opt in. A malformed
    target is reported first either way."""
    check_target(target, error, loc, what)
    if not allow:
        raise refuse_import(what or f"'{target}'", error, loc)
    return load_target(target, error, loc, what)


def load_target(target: str, error: type[NasError] = NasError, loc: str = "<target>", what: str | None = None):
    """Import ``"package.module:attribute"`` and return the attribute; a malformed target, a
    missing module or attribute is one ``error`` line (the user's own import errors are not
    hidden: a module that exists but fails to import raises as it would). It asks nobody:
    targets from users or files go through :func:`load_user_target`."""
    module_name, attr = check_target(target, error, loc, what)
    what = what or f"'{target}'"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name is None or not module_name.startswith(err.name):
            raise  # the module exists and one of its own imports is missing: show that
        raise error(f"{what}: no module named '{module_name}'", Loc(loc),
                    hint="check the name, and that its folder is on PYTHONPATH") from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise error(f"{what}: module '{module_name}' has no attribute '{attr}'", Loc(loc),
                        hint=did_you_mean(part, [n for n in dir(obj) if not n.startswith("_")]))
        obj = getattr(obj, part)
    return obj


def _target_of(obj) -> str | None:
    module, name = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    return f"{module}:{name}" if module and name else None


def _same(a, b) -> bool:
    if a is b:
        return True
    ta = a if isinstance(a, str) else _target_of(a)
    tb = b if isinstance(b, str) else _target_of(b)
    return ta is not None and ta == tb


def _describe(entry) -> str:
    return entry if isinstance(entry, str) else (_target_of(entry) or type(entry).__name__)


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"
