"""``nascompile zoo [NAME] [--check]``: the shipped spaces (``zoo:NAME`` wherever a space is
accepted), each with its paper and the figures its ``reference:`` records; ``--check``
recompiles them and compares (:mod:`nascompile.frontend.zoo`)."""
from __future__ import annotations

from .base import Command, say

# what --check compares: summary key -> reference key
_CHECKED = (("architectures", "architectures"), ("params", "params"), ("supernet_params", "supernet"))


def _short(n: int) -> str:
    """A count as a user reads it in a table: exact up to 10^12, then its power of ten."""
    return f"{n:,}" if n < 10 ** 12 else f"{n / 10 ** (len(str(n)) - 1):.2f}e{len(str(n)) - 1}"


def _document(name: str) -> dict:
    from ..frontend.load import load_file
    from ..frontend.zoo import zoo_path

    return load_file(zoo_path(name)).data


def _row(name: str, doc: dict) -> str:
    ref = doc.get("reference", {})
    archs = _short(ref["architectures"]) if "architectures" in ref else "?"
    params = "{:,} .. {:,}".format(*ref["params"]) if "params" in ref else "?"
    return f"{name:<14} {archs:>22}  {params:>26}  {ref.get('paper', '')}"


def _details(name: str, doc: dict) -> str:
    from ..frontend.zoo import zoo_path

    ref = doc.get("reference", {})
    lines = [f"zoo:{name}  ({zoo_path(name)})", f"  paper          {ref.get('paper', '?')}"]
    if "architectures" in ref:
        lines.append(f"  architectures  {ref['architectures']:,}")
    if "distinct" in ref:
        lines.append(f"  distinct       {ref['distinct']:,} (nascompile build --unique)")
    if "params" in ref:
        lines.append("  parameters     {:,} .. {:,}".format(*ref["params"]))
    if "supernet" in ref:
        lines.append(f"  supernet       {ref['supernet']:,} weights")
    if ref.get("measured_with"):
        lines.append(f"  figures from   {ref['measured_with']}")
    params = doc.get("params") or {}
    if params:
        lines.append("  params         " + ", ".join(f"{k}={v}" for k, v in params.items())
                     + "   (override with --set NAME=VALUE)")
    if doc.get("description"):
        lines.append("")
        lines.append(str(doc["description"]).strip())
    return "\n".join(lines)


def check(name: str) -> list[str]:
    """The differences between what ``build`` computes for ``zoo:NAME`` and its reference."""
    from ..build import build
    from ..compiler import load_space
    from ..frontend.zoo import zoo_path

    space = load_space(zoo_path(name))
    ref = space.doc.data.get("reference", {})
    summary = build(space, None)
    wrong = []
    for key, ref_key in _CHECKED:
        if ref_key in ref:
            got = summary.get(key)  # counts are exact integers, written as strings past 2^53
            got = [int(g) for g in got] if isinstance(got, (list, tuple)) else None if got is None else int(got)
            if got != ref[ref_key]:
                wrong.append(f"{ref_key}: build gives {got}, the reference says {ref[ref_key]}")
    return wrong


class Zoo(Command):
    name = "zoo"
    help = "list the shipped search spaces (zoo:NAME), or show one"

    def add_arguments(self, parser):
        parser.add_argument("space", nargs="?", metavar="NAME", help="a shipped space: show its details")
        parser.add_argument("--check", action="store_true",
                            help="recompile the space(s) and compare with the recorded figures (slow)")

    def run(self, args):
        from ..frontend.zoo import zoo_names, zoo_path

        names = [zoo_path(args.space).stem] if args.space else zoo_names()
        if args.space:
            say(_details(names[0], _document(names[0])))
        else:
            say(f"{'name':<14} {'architectures':>22}  {'parameters':>26}  paper")
            for name in names:
                say(_row(name, _document(name)))
            say("\nuse as zoo:NAME wherever a space is accepted, e.g. nascompile build zoo:nasbench201")
        if not args.check:
            return 0
        failed = 0
        for name in names:
            wrong = check(name)
            failed += bool(wrong)
            say(f"{name}: " + ("ok" if not wrong else "; ".join(wrong)))
        return 1 if failed else 0


COMMANDS: list[Command] = [Zoo()]
