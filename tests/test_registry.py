"""The one registry type behind ops, trainers, strategies, datasets and converters."""
from __future__ import annotations

import json

import pytest

from nascompile.errors import DataError, NasError
from nascompile.registry import Registry, load_target


def test_names_in_order_lazy_targets_and_decorator():
    r = Registry("thing")
    r.register("dumps", "json:dumps")

    @r.register("mine")
    def mine():
        return 1

    assert r.names() == ["dumps", "mine"] and list(r) == ["dumps", "mine"] and len(r) == 2
    assert "dumps" in r and "other" not in r
    assert r.get("dumps") is json.dumps and r.get("mine") is mine
    assert r.names("mi") == ["mine"]


def test_a_second_entry_of_one_name_is_refused_but_the_same_one_is_not():
    r = Registry("op")
    r.register("a", "json:dumps")
    r.register("a", "json:dumps")  # re-importing a module that registers is harmless
    with pytest.raises(ValueError, match="an op named 'a' is registered already \\(json:dumps\\)"):
        r.register("a", "json:loads")
    with pytest.raises(ValueError, match="non-empty name"):
        r.register("", "json:loads")


def test_unknown_names_list_what_is_known_and_suggest_the_closest():
    r = Registry("dataset", DataError, loc="<data>")
    for name in ("digits", "mnist1d"):
        r.register(name, "json:dumps")
    with pytest.raises(DataError) as err:
        r.get("digit")
    assert str(err.value) == "<data>: unknown dataset 'digit' (known: digits, mnist1d) (did you mean 'digits'?)"
    many = Registry("op")
    for i in range(30):
        many.register(f"op{i}", "json:dumps")
    assert "... (30 in all)" in str(many.unknown("x"))


def test_populate_runs_once_before_the_first_look_up():
    calls = []
    r = Registry("op", populate=lambda: (calls.append(1), r.register("late", "json:dumps")))
    assert calls == []
    assert r.names() == ["late"] and r.names() == ["late"] and calls == [1]


@pytest.mark.parametrize("target,message", [
    ("json", "is not of the form module:attribute"),
    ("no_such_module_xyz:thing", "no module named 'no_such_module_xyz'"),
    ("json:no_such_attribute", "module 'json' has no attribute 'no_such_attribute'"),
])
def test_load_target_errors_are_one_line(target, message):
    with pytest.raises(NasError, match=message) as err:
        load_target(target, loc="--algo")
    assert "\n" not in str(err.value) and str(err.value).startswith("--algo:")


def test_load_target_imports_dotted_attributes():
    import os.path

    assert load_target("os:path.join") is os.path.join
