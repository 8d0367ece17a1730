"""``nascompile fix`` and ``nascompile export-code``: one architecture of a space, as a pruned
module's weights or as standalone source. Both go through :func:`~nascompile.passes.freeze.freeze_arch`.

A bad architecture (an unknown label, a choice out of range, a used label missing) is one
:class:`~nascompile.errors.ArchError` line and nothing is written; outputs are written
atomically, so a reader sees the old file or the new one.
"""
from __future__ import annotations

import io

from .. import atomic
from .base import Command, add_allow_imports, add_overrides, imports_allowed, say


def _add_common(parser) -> None:
    parser.add_argument("space", help="space document (.yaml, .yml or .json) or build directory")
    parser.add_argument("arch", help="architecture JSON: a map from labels to choices")
    add_overrides(parser)
    add_allow_imports(parser)


def _freeze(args, command: str):
    from ..compiler import parse_overrides
    from ..passes.freeze import freeze_arch
    from .runs import open_space

    space = open_space(args.space, parse_overrides(args.set), imports_allowed(args), f"'{command}'")
    frozen, _ = freeze_arch(space, args.arch)
    return space, frozen


class Fix(Command):
    name = "fix"
    help = "check an architecture against a space, print its size and optionally save its weights"

    def add_arguments(self, parser):
        _add_common(parser)
        parser.add_argument("-o", "--output", default=None, metavar="MODEL.pt",
                            help="save the pruned module's state_dict here (default: save nothing)")

    def run(self, args):
        from ..passes.freeze import frozen_cost

        space, frozen = _freeze(args, self.name)
        params, flops = frozen_cost(frozen, space.ops)
        shape = "x".join(str(d) for d in space.input_shape)
        say(f"{space.name}  ({args.arch})")
        print(f"  parameters     {params:,}")
        print(f"  FLOPs (MACs)   {flops:,} for input {shape}")
        if args.output is not None:
            import torch

            from ..backends.fixed import build_fixed
            from ..errors import Loc
            from ..passes.limits import check_memory

            check_memory(params, "the pruned network", Loc(str(args.arch)), factor=2)  # weights, then their copy
            module = build_fixed(frozen, space.ops)
            counted = sum(p.numel() for p in module.parameters())
            if counted != params:  # the cost rules and the torch factories disagree: a bug
                raise RuntimeError(f"the module has {counted:,} parameters, the analysis {params:,}")
            buffer = io.BytesIO()
            torch.save(module.state_dict(), buffer)
            atomic.write_bytes(args.output, buffer.getvalue())
            say(f"wrote {args.output}")
        return 0


class ExportCode(Command):
    name = "export-code"
    help = "write one architecture of a space as a standalone PyTorch source file"

    def add_arguments(self, parser):
        _add_common(parser)
        parser.add_argument("-o", "--output", required=True, metavar="MODEL.py",
                            help="the Python file to write")
        parser.add_argument("--class-name", default="Net", help="name of the model class (default: Net)")

    def run(self, args):
        from ..backends.codegen import check_class_name, generate_source

        check_class_name(args.class_name)  # before the slow part
        space, frozen = _freeze(args, self.name)
        atomic.write_text(args.output, generate_source(frozen, args.class_name, space.ops))
        say(f"wrote {args.output} (class {args.class_name})")
        return 0


COMMANDS = [Fix(), ExportCode()]
