#!/usr/bin/env python
"""How well each one-shot algorithm ranks architectures on the MNIST-1D space (issue 11, item 5).

For every algorithm (default: random, spos, path-dropout, smash, enas) and seed, with the same
budget — the same search epochs, batch size, learning rate and data — it runs what a user runs::

    nascompile search examples/mnist1d_cnn.yaml --algo A --data mnist1d --epochs E --seed S -o OUT/S/A
    nascompile rank OUT/S/A --sample N --trial-epochs T --trials-dir OUT/S/standalone

Every run of a seed samples the same N architectures (``rank``'s sample depends on the space
and the seed only), so the N stand-alone trials are trained once per seed and shared. It then
prints, per algorithm, Kendall's tau, Spearman's rho and the top-k overlap between the
supernet's ranking and the stand-alone one (mean and spread over seeds), the stand-alone
accuracy of the architecture the supernet ranks first among the N ("picked") against the best
of the N, and the search time; and says which ranks best (highest mean tau). Results go to
``OUT/results.json``. Runs already done in OUT are reused (delete OUT to start afresh).

    python benchmarks/bench_ranking.py                       # 20 epochs, N=30, T=8, seeds 0 1
    python benchmarks/bench_ranking.py --quick               # 6 epochs, N=12, T=3, seed 0
    python benchmarks/bench_ranking.py --algos spos,smash --seeds 0,1,2

Always exits 0: a benchmark, not a test.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPACE = ROOT / "examples" / "mnist1d_cnn.yaml"
ALGOS = ("random", "spos", "path-dropout", "smash", "enas")


def nascompile(*argv, log: Path) -> float:
    """Run the command line (``python -m nascompile``); returns its wall-clock seconds."""
    start = time.time()
    with open(log, "w") as out:
        rc = subprocess.run([sys.executable, "-m", "nascompile", *map(str, argv)], cwd=ROOT, stdout=out,
                            stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"}).returncode
    if rc != 0:
        raise RuntimeError(f"nascompile {' '.join(map(str, argv[:2]))} failed (exit {rc}); see {log}")
    return time.time() - start


def one_run(out: Path, algo: str, seed: int, args) -> dict:
    run = out / str(seed) / algo
    run.mkdir(parents=True, exist_ok=True)
    record = run / "run.json"
    searched = record.exists() and json.loads(record.read_text()).get("status") == "done"
    seconds = json.loads(record.read_text()).get("seconds") if searched else None
    if not searched:
        print(f"  search {algo} seed {seed} ...", flush=True)
        nascompile("search", SPACE, "--algo", algo, "--data", "mnist1d", "--epochs", args.epochs, "--seed", seed,
                   "--batch-size", args.batch_size, "--lr", args.lr, "-o", run, "-q", "--threads", 1,
                   log=run / "search.log")
        seconds = json.loads(record.read_text()).get("seconds")
    rank = run / "rank.json"
    report = json.loads(rank.read_text()) if rank.exists() else None
    if report is None or report.get("sample") != args.sample or report.get("trial_epochs") != args.trial_epochs:
        print(f"  rank {algo} seed {seed} ...", flush=True)
        nascompile("rank", run, "--sample", args.sample, "--trial-epochs", args.trial_epochs, "--workers",
                   args.workers, "--trials-dir", out / str(seed) / "standalone", "-q", "--threads", 1,
                   log=run / "rank.log")
        report = json.loads(rank.read_text())
    rows = [r for r in report["rows"] if r["stand_alone"] is not None]
    picked = max(rows, key=lambda r: r["one_shot"])["stand_alone"]
    best = max(r["stand_alone"] for r in rows)
    return {"algo": algo, "seed": seed, "kendall_tau": report["kendall_tau"], "spearman_rho": report["spearman_rho"],
            "top_k": report["top_k"], "top_k_overlap": report["top_k_overlap"], "n": report["n"],
            "picked": picked, "best_of_sample": best, "search_seconds": seconds,
            "one_shot_mean": statistics.mean(r["one_shot"] for r in rows)}


def _mean_sd(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:+.3f}"
    return f"{statistics.mean(values):+.3f} ± {statistics.stdev(values):.3f}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--algos", default=",".join(ALGOS), help="comma-separated algorithms (default: %(default)s)")
    p.add_argument("--seeds", default=None, help="comma-separated seeds (default: 0,1; --quick: 0)")
    p.add_argument("--epochs", type=int, default=None, help="search epochs of every algorithm (default: 20)")
    p.add_argument("--sample", type=int, default=None, help="architectures ranked (default: 30)")
    p.add_argument("--trial-epochs", type=int, default=None, help="stand-alone epochs per architecture (default: 8)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--workers", type=int, default=2, help="stand-alone trials in parallel (default: 2)")
    p.add_argument("--out", default=str(ROOT / "runs" / "bench_ranking"), help="output folder")
    p.add_argument("--quick", action="store_true", help="6 epochs, N=12, 3 trial epochs, one seed")
    args = p.parse_args(argv)
    quick = {"epochs": 6, "sample": 12, "trial_epochs": 3, "seeds": "0"}
    full = {"epochs": 20, "sample": 30, "trial_epochs": 8, "seeds": "0,1"}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    algos = [a for a in args.algos.split(",") if a]
    seeds = [int(s) for s in args.seeds.split(",") if s]
    out = Path(args.out)
    print(f"ranking on {SPACE.name} (mnist1d): {len(algos)} algorithms x seeds {seeds}; search {args.epochs} "
          f"epochs, N={args.sample} architectures, {args.trial_epochs} stand-alone epochs each")
    results = []
    for seed in seeds:
        for algo in algos:
            try:
                results.append(one_run(out, algo, seed, args))
            except (RuntimeError, KeyError, ValueError) as err:
                print(f"  {algo} seed {seed}: {err}")
    (out).mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"settings": {k: v for k, v in vars(args).items()},
                                                  "results": results}, indent=1))
    print(f"\n{'algorithm':<14} {'Kendall tau':>16} {'Spearman rho':>16} {'top-k overlap':>16} {'picked':>8} "
          f"{'best of N':>9} {'search s':>9}")
    summary = {}
    for algo in algos:
        rs = [r for r in results if r["algo"] == algo]
        if not rs:
            continue
        taus = [r["kendall_tau"] for r in rs if r["kendall_tau"] is not None]
        summary[algo] = statistics.mean(taus) if taus else float("nan")
        print(f"{algo:<14} {_mean_sd(r['kendall_tau'] for r in rs):>16} {_mean_sd(r['spearman_rho'] for r in rs):>16} "
              f"{_mean_sd(r['top_k_overlap'] for r in rs):>16} {statistics.mean(r['picked'] for r in rs):>8.3f} "
              f"{statistics.mean(r['best_of_sample'] for r in rs):>9.3f} "
              f"{statistics.mean(r['search_seconds'] or 0 for r in rs):>9.1f}")
    ranked = sorted((a for a in summary if summary[a] == summary[a]), key=lambda a: -summary[a])
    if ranked:
        print(f"\nranks best here (mean Kendall tau): {ranked[0]}  (order: {', '.join(ranked)})")
    print(f"wrote {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
