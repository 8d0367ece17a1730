#!/usr/bin/env python
"""Benchmark ``nascompile build`` against the project's performance targets.

Targets (from the issue):

* the DARTS space (zoo/darts.yaml) builds in under 1 s beyond interpreter start-up;
* a generated chain of 10,000 choices builds in under 5 s;
* build time grows linearly: time(10k) / time(1k) should be about 10.

Every measurement runs in a fresh child process with a time limit, so a slow case reports
"> LIMIT" instead of hanging the benchmark, and in-process figures do not profit from caches
warmed by an earlier case. Medians over the repetitions are reported. The script always exits
0: it is a benchmark, not a test.

    python benchmarks/bench_build.py             # full run
    python benchmarks/bench_build.py --quick     # fewer repetitions
    python benchmarks/bench_build.py --profile 300   # + cProfile of a 300-choice chain
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DARTS = ROOT / "zoo" / "darts.yaml"

DARTS_TARGET_S = 1.0      # build time beyond interpreter start-up
CHAIN_TARGET_S = 5.0      # a chain of 10,000 choices
CHAIN_TARGET_N = 10_000
LINEAR_RATIO_MAX = 15.0   # time(10k)/time(1k): ideally ~10; PASS up to 1.5x that


# ---------------------------------------------------------------------------- chain spaces

def chain_yaml(n: int, kind: str = "layer") -> str:
    """An MLP-like chain on input [16]: ``n`` nodes, each one separate decision, then a head.

    ``layer``: node i is ``prev | choice(linear(16) | relu, identity())`` (label ``n{i}``);
    ``value``: node i is ``prev | linear(choice(16, 32)) | relu`` (a value choice).
    Every decision is used by a live node, so there are exactly 2**n architectures.
    """
    lines = [
        "nascompile: 1",
        f"name: chain-{kind}-{n}",
        f"description: generated chain of {n} {kind} choices (benchmarks/bench_build.py)",
        "input: [16]",
        "network:",
        "  nodes:",
    ]
    prev = "input"
    for i in range(n):
        if kind == "layer":
            expr = f"{prev} | choice(linear(16) | relu, identity())"
        else:
            expr = f"{prev} | linear(choice(16, 32)) | relu"
        lines.append(f"    n{i}: {expr}")
        prev = f"n{i}"
    lines.append(f"    head: {prev} | linear(10)")
    lines.append("  output: head")
    return "\n".join(lines) + "\n"


def chain_expected(n: int, kind: str) -> dict:
    exp = {"decisions": n, "architectures": 2 ** n}
    if kind == "layer":
        # all identity: only the head (16*10 + 10); all linear: + n * (16*16 + 16)
        exp["params"] = [170, 170 + 272 * n]
    return exp


# ---------------------------------------------------------------------------- child workers

def worker(argv: list[str]) -> None:
    """Run in a child process: time import, compile and build(space, None); print JSON."""
    what = argv[0]
    t0 = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    from nascompile.build import build
    from nascompile.compiler import load_space
    t1 = time.perf_counter()
    space = load_space(argv[1])
    t2 = time.perf_counter()
    summary = build(space, None)
    t3 = time.perf_counter()
    print(json.dumps({
        "what": what, "import_s": t1 - t0, "compile_s": t2 - t1, "stats_s": t3 - t2,
        "total_s": t3 - t1, "decisions": summary["decisions"],
        "architectures": str(summary["architectures"]), "params": summary["params"],
    }))


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run_timed(cmd: list[str], limit: float):
    """(wall seconds, completed process) or (None, None) when ``limit`` was exceeded."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=child_env(), capture_output=True, text=True,
                              timeout=limit)
    except subprocess.TimeoutExpired:
        return None, None
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return wall, proc


def in_process(what: str, path: Path, limit: float):
    wall, proc = run_timed([sys.executable, __file__, "--worker", what, str(path)], limit)
    if wall is None:
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def parse_cli(stdout: str) -> dict:
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "decisions":
            out["decisions"] = int(parts[1])
        elif len(parts) >= 2 and parts[0] == "architectures":
            out["architectures"] = int(parts[1].replace(",", ""))
    return out


# ---------------------------------------------------------------------------- reporting

def median(xs):
    return statistics.median(xs) if xs else None


def fmt(t, limit=None):
    if t is None:
        return f"> {limit:.0f} s" if limit is not None else "n/a"
    return f"{t:.3f} s" if t < 100 else f"{t:.0f} s"


def verdict(ok):
    return "PASS" if ok else "FAIL"


class Series:
    """Repetitions of one measurement; stops early on a timeout or when over its time budget."""

    def __init__(self, reps: int, budget: float):
        self.reps, self.budget = reps, budget
        self.values: list[float] = []
        self.timed_out = False
        self.spent = 0.0

    def more(self) -> bool:
        return not self.timed_out and len(self.values) < self.reps and (
            not self.values or self.spent < self.budget)

    def add(self, t):
        if t is None:
            self.timed_out = True
        else:
            self.values.append(t)
            self.spent += t

    @property
    def median(self):
        return None if self.timed_out and not self.values else median(self.values)

    def note(self):
        n = len(self.values)
        return f"n={n}" + (" +timeout" if self.timed_out else "")


# ---------------------------------------------------------------------------- benchmark

def bench_darts(reps: int, limit: float) -> dict:
    py = sys.executable
    bare, cli = [], []
    # Side by side: each repetition times the bare interpreter and then the CLI.
    run_timed([py, "-c", "pass"], limit)  # warm the OS file cache once
    for _ in range(reps):
        bare.append(run_timed([py, "-c", "pass"], limit)[0])
        t, proc = run_timed([py, "-m", "nascompile", "build", str(DARTS.relative_to(ROOT)), "--check"], limit)
        cli.append(t)
        last = proc
    inproc = [in_process("darts", DARTS, limit) for _ in range(reps)]
    cli_ok = all(t is not None for t in cli)
    res = {
        "startup": median([t for t in bare if t is not None]),
        "cli": median(cli) if cli_ok else None,
        "cli_out": parse_cli(last.stdout) if cli_ok and last else {},
        "import": median([r["import_s"] for r in inproc if r]),
        "compile": median([r["compile_s"] for r in inproc if r]),
        "stats": median([r["stats_s"] for r in inproc if r]),
        "total": median([r["total_s"] for r in inproc if r]) if all(inproc) else None,
        "reps": reps,
    }
    return res


def bench_chain(n: int, kind: str, tmp: Path, reps: int, limit: float, budget: float,
                skip_cli: bool) -> dict:
    path = tmp / f"chain_{kind}_{n}.yaml"
    path.write_text(chain_yaml(n, kind))
    exp = chain_expected(n, kind)
    res = {"n": n, "errors": []}

    inp = Series(reps, budget)
    parts = {"import_s": [], "compile_s": [], "stats_s": []}
    last = None
    while inp.more():
        r = in_process(f"chain{n}", path, limit)
        inp.add(r["total_s"] if r else None)
        if r:
            last = r
            for k in parts:
                parts[k].append(r[k])
    res["in"] = inp
    res.update({k: median(v) for k, v in parts.items()})
    if last:
        if last["decisions"] != exp["decisions"]:
            res["errors"].append(f"in-process decisions {last['decisions']} != {exp['decisions']}")
        if int(last["architectures"]) != exp["architectures"]:
            res["errors"].append(f"in-process architectures != 2**{n}")
        if "params" in exp and list(last["params"]) != exp["params"]:
            res["errors"].append(f"in-process params {last['params']} != {exp['params']}")

    cli = Series(reps, budget)
    if skip_cli or inp.timed_out:
        res["cli_skipped"] = True  # the CLI does the same work plus start-up: it cannot be faster
    else:
        cmd = [sys.executable, "-m", "nascompile", "build", str(path), "--check"]
        while cli.more():
            t, proc = run_timed(cmd, limit)
            cli.add(t)
            if proc is not None:
                got = parse_cli(proc.stdout)
                if got.get("decisions") != exp["decisions"]:
                    res["errors"].append(f"CLI decisions {got.get('decisions')} != {exp['decisions']}")
                if got.get("architectures") != exp["architectures"]:
                    res["errors"].append(f"CLI architectures != 2**{n}")
    res["cli"] = cli
    res["errors"] = sorted(set(res["errors"]))
    return res


def profile_chain(n: int, kind: str, top: int) -> None:
    import cProfile
    import pstats

    sys.path.insert(0, str(ROOT))
    from nascompile.build import build
    from nascompile.compiler import compile_text

    text = chain_yaml(n, kind)
    prof = cProfile.Profile()
    prof.enable()
    space = compile_text(text, f"chain_{kind}_{n}.yaml")
    build(space, None)
    prof.disable()
    print(f"\n== cProfile: compile + build(space, None) of a {n}-choice {kind} chain "
          f"(top {top} by cumulative time) ==")
    stats = pstats.Stats(prof)
    stats.sort_stats("cumulative")
    rows = []
    for (file, line, func), (cc, nc, tt, ct, callers) in stats.stats.items():
        rows.append((ct, tt, nc, func, file, line))
    rows.sort(reverse=True)
    print(f"{'cumulative':>10} {'tottime':>9} {'calls':>10}  function (file:line)")
    for ct, tt, nc, func, file, line in rows[:top]:
        try:
            file = str(Path(file).resolve().relative_to(ROOT))
        except ValueError:
            pass
        print(f"{ct:9.3f}s {tt:8.3f}s {nc:>10}  {func} ({file}:{line})")
    print(f"\n-- top {top} by own (tot) time --")
    rows.sort(key=lambda r: r[1], reverse=True)
    for ct, tt, nc, func, file, line in rows[:top]:
        try:
            file = str(Path(file).resolve().relative_to(ROOT))
        except ValueError:
            pass
        print(f"{ct:9.3f}s {tt:8.3f}s {nc:>10}  {func} ({file}:{line})")


def main(argv=None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--worker"]:
        worker(argv[1:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (3 for DARTS, 1 for chains)")
    ap.add_argument("--reps", type=int, help="repetitions per measurement (default 7 DARTS / 3 chains)")
    ap.add_argument("--sizes", default="1000,10000",
                    help="chain sizes, comma-separated (default 1000,10000; must include both for the ratio)")
    ap.add_argument("--kind", choices=["layer", "value"], default="layer", help="chain of layer or value choices")
    ap.add_argument("--timeout", type=float, default=120.0, help="limit per child run, seconds (default 120)")
    ap.add_argument("--budget", type=float, default=30.0,
                    help="stop repeating a case after this many seconds of it (default 30)")
    ap.add_argument("--profile", type=int, nargs="?", const=300, metavar="N",
                    help="also cProfile compile+build of an N-choice chain (default N=300)")
    ap.add_argument("--top", type=int, default=25, help="rows of the profile to print")
    args = ap.parse_args(argv)

    darts_reps = args.reps or (3 if args.quick else 7)
    chain_reps = args.reps or (1 if args.quick else 3)
    sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})

    print(f"nascompile build benchmark  (python {sys.version.split()[0]}, {sys.executable})")
    print(f"repetitions: DARTS {darts_reps}, chains {chain_reps}; limit {args.timeout:.0f} s per run; medians\n")

    # ---- DARTS
    d = bench_darts(darts_reps, args.timeout)
    beyond = None if d["cli"] is None else d["cli"] - d["startup"]
    print("== DARTS (zoo/darts.yaml) ==")
    print(f"  (a) python -c pass                              {fmt(d['startup'])}")
    print(f"  (b) python -m nascompile build darts --check    {fmt(d['cli'], args.timeout)}"
          f"   [decisions {d['cli_out'].get('decisions')}, architectures {d['cli_out'].get('architectures')}]")
    print(f"  (b) - (a)                                       {fmt(beyond)}   target < {DARTS_TARGET_S} s")
    print(f"  in-process load_space + build(space, None)      {fmt(d['total'])}"
          f"   (compile {fmt(d['compile'])}, stats {fmt(d['stats'])}; import nascompile {fmt(d['import'])})")
    print()

    # ---- chains
    results = {}
    with tempfile.TemporaryDirectory(prefix="nascompile-bench-") as tmp:
        timed_out_below = False
        for n in sizes:
            if timed_out_below:
                results[n] = None
                continue
            r = bench_chain(n, args.kind, Path(tmp), chain_reps, args.timeout, args.budget, False)
            results[n] = r
            timed_out_below = r["in"].timed_out and not r["in"].values
            print(f"  chain {n:>6}: in-process {fmt(r['in'].median, args.timeout)} ({r['in'].note()}), "
                  f"CLI {fmt(r['cli'].median, args.timeout) if not r.get('cli_skipped') else 'skipped'}", flush=True)

    print(f"\n== chains of {args.kind} choices (input [16]; one decision per node) ==")
    hdr = (f"  {'N':>6}  {'compile':>10}  {'stats':>10}  {'in-process':>11}  {'CLI':>10}  "
           f"{'exponent':>8}  {'check':<30}")
    print(hdr)
    print("  " + "-" * (len(hdr) - 2))
    prev = None
    for n in sizes:
        r = results[n]
        if r is None:
            print(f"  {n:>6}  {'skipped: a smaller N timed out':>60}")
            continue
        cli_t = "skipped" if r.get("cli_skipped") else fmt(r["cli"].median, args.timeout)
        if r["in"].timed_out and not r["in"].values:
            check = "n/a (timed out)"
        else:
            check = "ok: decisions=N, archs=2**N" if not r["errors"] else "; ".join(r["errors"])
        # local growth exponent k in time ~ N**k, from the previous size (1 = linear)
        t = r["in"].median
        expo = "-"
        if prev is not None and t is not None and prev[1]:
            expo = f"{math.log(t / prev[1]) / math.log(n / prev[0]):.2f}"
        prev = (n, t) if t is not None else None
        print(f"  {n:>6}  {fmt(r['compile_s']):>10}  {fmt(r['stats_s']):>10}  "
              f"{fmt(r['in'].median, args.timeout):>11}  {cli_t:>10}  {expo:>8}  {check}")

    # ---- verdicts
    def chain_time(n):
        r = results.get(n)
        if r is None:
            return None, True
        return r["in"].median, r["in"].timed_out and not r["in"].values

    rows = []
    rows.append(("DARTS build beyond start-up (CLI b - a)", f"< {DARTS_TARGET_S:.0f} s", fmt(beyond, args.timeout),
                 beyond is not None and beyond < DARTS_TARGET_S))
    if CHAIN_TARGET_N in results:
        r = results[CHAIN_TARGET_N]
        if r is None or r.get("cli_skipped"):
            t10, _ = chain_time(CHAIN_TARGET_N)
            shown = f"> {args.timeout:.0f} s (in-process timed out)" if t10 is None else fmt(t10)
            ok = False
        else:
            t10 = r["cli"].median
            shown = fmt(t10, args.timeout)
            ok = t10 is not None and t10 < CHAIN_TARGET_S and not r["errors"]
        rows.append((f"chain {CHAIN_TARGET_N:,} build (CLI, wall)", f"< {CHAIN_TARGET_S:.0f} s", shown, ok))
        ti, _ = chain_time(CHAIN_TARGET_N)
        rows.append((f"chain {CHAIN_TARGET_N:,} in-process compile+stats", f"< {CHAIN_TARGET_S:.0f} s",
                     fmt(ti, args.timeout), ti is not None and ti < CHAIN_TARGET_S))
    if 1000 in results and CHAIN_TARGET_N in results:
        t1, to1 = chain_time(1000)
        t10, to10 = chain_time(CHAIN_TARGET_N)
        print()
        print(f"  time(1k)  = {fmt(t1, args.timeout)}   (in-process compile + stats)")
        print(f"  time(10k) = {fmt(t10, args.timeout)}")
        if t1 is not None and t10 is not None:
            ratio = t10 / t1
            shown, ok = f"{ratio:.2f}", ratio <= LINEAR_RATIO_MAX
        elif t1 is not None and to10:
            ratio = args.timeout / t1
            shown, ok = f"> {ratio:.1f} (10k timed out)", ratio <= LINEAR_RATIO_MAX and False
        else:
            shown, ok = "n/a (1k timed out)", False
        print(f"  time(10k)/time(1k) = {shown}   (linear: ~10)")
        rows.append(("growth time(10k)/time(1k)", f"<= {LINEAR_RATIO_MAX:.0f} (~10)", shown, ok))
    errors = [e for r in results.values() if r for e in r["errors"]]
    rows.append(("chain results correct (decisions, 2**N)", "exact", "ok" if not errors else "WRONG", not errors))

    print("\n== targets ==")
    w = max(len(r[0]) for r in rows)
    for name, target, got, ok in rows:
        print(f"  {verdict(ok):4}  {name:<{w}}  {target:>10}  measured {got}")

    if args.profile:
        profile_chain(args.profile, args.kind, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
