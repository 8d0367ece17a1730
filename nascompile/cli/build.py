"""``nascompile build SPACE``: validate a space, print its statistics, write a build directory
(canonical IR, summary, NNI search-space files; :func:`nascompile.build.build`). Imports no
torch: building a space must stay fast."""
from __future__ import annotations

from .base import Command, add_allow_imports, add_overrides, imports_allowed, say


class Build(Command):
    name = "build"
    help = "validate a space, print its statistics and write a build directory"

    def add_arguments(self, parser):
        parser.add_argument("space", help="space document (.yaml, .yml or .json), or a build directory to rebuild")
        parser.add_argument("-o", "--output", default="build", help="build directory (default: ./build)")
        add_overrides(parser)
        parser.add_argument("--check", action="store_true", help="validate only; write nothing")
        parser.add_argument("--unique", action="store_true",
                            help="also count distinct networks (docs/space-format.md, Distinct networks)")
        parser.add_argument("--arch", metavar="ARCH.json",
                            help="also print the parameters and FLOPs of this fixed architecture")
        add_allow_imports(parser)

    def run(self, args):
        from ..build import build, format_summary
        from ..compiler import parse_overrides
        from ..ui.space_view import space_view
        from .runs import open_space

        space = open_space(args.space, parse_overrides(args.set), imports_allowed(args), "'build'")
        extra = None if args.check else {"space_view.json": space_view(space)}
        summary = build(space, None if args.check else args.output, arch=args.arch, extra=extra,
                        unique=args.unique, progress=_progress() if args.unique else None)
        say(format_summary(summary))
        if args.check:
            print("ok: the space is valid (nothing written)")
        else:
            say(f"wrote {args.output}/")
        return 0


def _progress():
    """``progress(done, total)`` drawing a bar on stderr (in place on a terminal, else a line
    every 10 s)."""
    import sys
    import time

    from ..logs import progress_bar
    last = [0.0]

    def show(done, total):
        tty, now = sys.stderr.isatty(), time.monotonic()
        if not tty and now - last[0] < 10 and done < total:
            return
        last[0] = now
        line = f"distinct networks {progress_bar(done / max(total, 1))} {done:,}/{total:,} assignments"
        print(("\r" + line) if tty else line, end="\n" if not tty or done >= total else "", file=sys.stderr,
              flush=True)
    return show


COMMANDS: list[Command] = [Build()]
