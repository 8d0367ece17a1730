"""``nascompile convert`` and ``nascompile ss-gen``: architectures and search spaces in other
tools' notations. Thin wrappers over :mod:`nascompile.interop`.

Outputs are written atomically and only after everything is checked: a mistake leaves an
existing output file as it was.
"""
from __future__ import annotations

import json

from ..errors import Loc, NasError
from .base import Command, UsageError, add_allow_imports, add_overrides, imports_allowed, say


def _write(path, text: str) -> None:
    from .. import atomic

    try:
        atomic.write_text(path, text)
    except OSError as err:
        raise NasError(f"cannot write the output: {err.strerror}", Loc(str(path))) from None


class Convert(Command):
    name = "convert"
    help = "convert an architecture to or from a DARTS genotype or a NAS-Bench-201 string"

    def add_arguments(self, parser):
        parser.add_argument("space", help="space document (.yaml, .yml or .json) or build directory")
        parser.add_argument("arch", nargs="?", metavar="ARCH.json",
                            help="architecture JSON to write as a string (prints it, or writes it to -o)")
        parser.add_argument("--to", choices=["genotype", "nb201"],
                            help="the notation to write (default: the one that fits the space)")
        src = parser.add_mutually_exclusive_group()
        src.add_argument("--from-genotype", metavar="'Genotype(...)'",
                         help="read a DARTS genotype and write the architecture JSON")
        src.add_argument("--from-nb201", metavar="'|op~0|+...'",
                         help="read a NAS-Bench-201 string and write the architecture JSON")
        parser.add_argument("-o", "--output", metavar="FILE",
                            help="write the result here (default: print it)")
        add_overrides(parser)
        add_allow_imports(parser)

    def run(self, args):
        from ..compiler import parse_overrides
        from ..interop import arch_from_string, arch_to_string
        from .runs import open_space

        text, name = ((args.from_genotype, "genotype") if args.from_genotype is not None
                      else (args.from_nb201, "nb201") if args.from_nb201 is not None else (None, None))
        if text is None and args.arch is None:
            raise UsageError("give ARCH.json to write it as a string, or --from-genotype / --from-nb201 "
                             "to read one")
        if text is not None and args.arch is not None:
            raise UsageError(f"give either ARCH.json or --from-{name}, not both")
        if text is not None and args.to is not None:
            raise UsageError(f"--to is for ARCH.json; --from-{name} always gives an architecture JSON")
        space = open_space(args.space, parse_overrides(args.set), imports_allowed(args), "'convert'")
        if text is None:
            result = arch_to_string(space, args.arch, args.to)
        else:
            arch = arch_from_string(space, text, name)
            result = json.dumps(arch, indent=2)
        if args.output is None:
            say(result)
        else:
            _write(args.output, result + "\n")
            say(f"wrote {args.output}")
        return 0


class SsGen(Command):
    name = "ss-gen"
    help = "write the NNI search space of a hand-written model by running its trial command"

    def add_arguments(self, parser):
        parser.add_argument("--trial-command", required=True, metavar="COMMAND",
                            help='how a trial runs, e.g. "python train.py" (split like a shell would; '
                                 "no shell runs it)")
        parser.add_argument("-o", "--output", default="search_space.json",
                            help="the search-space JSON to write (default: ./search_space.json)")
        parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                            help="give up when the command runs longer (default: no limit)")

    def run(self, args):
        from ..interop import ss_gen

        if args.timeout is not None and args.timeout <= 0:
            raise UsageError("--timeout must be positive")
        space = ss_gen(args.trial_command, args.output, args.timeout)
        print(f"wrote {args.output} ({len(space)} choices)")
        return 0


COMMANDS = [Convert(), SsGen()]
