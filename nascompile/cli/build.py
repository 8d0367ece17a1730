"""``nascompile build SPACE``: validate a space, print its statistics, write a build directory
(canonical IR, summary, NNI search-space files; :func:`nascompile.build.build`). Imports no
torch: building a space must stay fast."""
from __future__ import annotations

from .base import Command, add_allow_imports, add_overrides, imports_allowed, say


class Build(Command):
    name = "build"
    help = "validate a space, print its statistics and write a build directory"

    def add_arguments(self, parser):
        parser.add_argument("space", help="space document (.yaml, .yml or .json)")
        parser.add_argument("-o", "--output", default="build", help="build directory (default: ./build)")
        add_overrides(parser)
        parser.add_argument("--check", action="store_true", help="validate only; write nothing")
        parser.add_argument("--arch", metavar="ARCH.json",
                            help="also print the parameters and FLOPs of this fixed architecture")
        add_allow_imports(parser)

    def run(self, args):
        from ..build import build, format_summary
        from ..compiler import load_space, parse_overrides
        from ..ui.space_view import space_view

        space = load_space(args.space, parse_overrides(args.set), allow_imports=imports_allowed(args))
        extra = None if args.check else {"space_view.json": space_view(space)}
        summary = build(space, None if args.check else args.output, arch=args.arch, extra=extra)
        say(format_summary(summary))
        if args.check:
            print("ok: the space is valid (nothing written)")
        else:
            say(f"wrote {args.output}/")
        return 0


COMMANDS: list[Command] = [Build()]
