"""What the A/B benchmarks share (bench_search.py, bench_superkernel.py): the report of one
comparison. Imported by the benchmark scripts, which put this folder on ``sys.path``."""
from __future__ import annotations


def report(key: str, title: str, ours: str, theirs: str, medians: dict, by_cpu: bool, target: float,
           width: int = 44, difference: bool = False) -> float:
    """Print the medians (``{name: (wall s, cpu s)}``) of ``ours`` and ``theirs``, their ratio and
    its verdict against ``target`` (on CPU time when ``by_cpu``, else wall time); the ratio."""
    wall = medians[ours][0] / medians[theirs][0]
    cpu = medians[ours][1] / medians[theirs][1]
    ratio = cpu if by_cpu else wall
    print(f"({key}) {title}")
    print(f"    {'':<{width}} {'wall':>9}    {'cpu':>9}")
    for name in (ours, theirs):
        print(f"    {name:<{width}} {medians[name][0] * 1000:9.1f} ms {medians[name][1] * 1000:9.1f} ms")
    if difference:
        print(f"    {'difference':<{width}} {(medians[ours][0] - medians[theirs][0]) * 1000:+9.1f} ms "
              f"{(medians[ours][1] - medians[theirs][1]) * 1000:+9.1f} ms")
    print(f"    {'ratio':<{width}} {wall:9.3f}    {cpu:9.3f}    target <= {target:.2f} "
          f"({'cpu' if by_cpu else 'wall'}): {'PASS' if ratio <= target else 'FAIL'}", flush=True)
    return ratio
