"""Run folders written by hand for the page's tests, as ``search``, ``retrain`` and ``rank``
write them (no training): a one-shot run, a multi-trial run, a retraining, a ranking."""
from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPACE = str(ROOT / "examples" / "digits_cnn.yaml")
MNIST1D = str(ROOT / "examples" / "mnist1d_cnn.yaml")
ARCH = {"head/p": 0.25, "layer1/op0": "sep_conv3x3", "layer2/input0": ["layer1"], "layer2/op0": "conv5x5",
        "stem/kernel": 3}
# depth 2: block2 is not in the network (and not in a canonical architecture)
MNIST1D_ARCH = {"width": 32, "features/depth": 2, "features/block0": "conv5", "features/block1": "sep5"}
OPS = ["conv3x3", "conv5x5", "sep_conv3x3", "dil_conv3x3", "max_pool3x3", "avg_pool3x3"]


def epoch_record(e, acc, probs=True, arch=ARCH):
    r = {"kind": "epoch", "epoch": e, "global_step": 10 * (e + 1),
         "train": {"loss": 2.0 - 0.3 * e, "acc": acc - 0.05, "reward": 0.1 * e, "entropy": 6 - e},
         "valid": {"loss": 2.1 - 0.3 * e, "acc": acc}, "arch": arch, "seconds": 1.5}
    if probs:
        p = [0.1] * 6
        p[2] = 0.5
        r["arch_probs"] = {"layer1/op0": p, "layer2/op0": [0.0, 1.0, 2.0, 0.0, 0.0, 0.0]}  # the second: logits
    return r


def make_oneshot(run: Path, accs=(0.5, 0.7), algo="darts", done=True, space=SPACE, arch=ARCH, name="digits-cnn"):
    run.mkdir(parents=True, exist_ok=True)
    (run / "run.json").write_text(json.dumps({
        "format": 1, "algo": algo, "data": "digits", "epochs": len(accs), "seed": 0,
        "space": {"path": space, "kind": "document", "overrides": {}, "name": name},
        "status": "done" if done else "running"}))
    lines = [json.dumps({"kind": "step", "epoch": 0, "step": 4, "global_step": 5, "loss": 2.2})]
    lines += [json.dumps(epoch_record(e, a, probs=space == SPACE, arch=arch)) for e, a in enumerate(accs)]
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n" + '{"kind": "epoch", "epo')  # a line being written
    if done:
        (run / "arch.json").write_text(json.dumps(arch))
    return run


TRIALS = [  # (arch change, metric, params, status)
    ({"layer1/op0": "conv3x3"}, 0.80, 5000, "succeeded"),
    ({"layer1/op0": "conv5x5"}, 0.90, 9000, "succeeded"),
    ({"layer1/op0": "sep_conv3x3"}, 0.70, 3000, "succeeded"),
    ({"layer1/op0": "dil_conv3x3"}, 0.60, 8000, "succeeded"),
    ({"layer1/op0": "max_pool3x3"}, None, 2000, "failed"),
]


def make_multitrial(run: Path, trials=TRIALS):
    from nascompile.multitrial.store import Store

    store = Store.in_run_dir(run)
    store.open_experiment("hash", "random", 0, {"space": SPACE, "overrides": []})
    for change, metric, params, status in trials:
        tid = store.add_trial({**ARCH, **change}, params=params, flops=params * 10)
        store.start(tid)
        store.finish(tid, status, metric=metric, error="boom\nmore" if status == "failed" else None)
    store.close()
    (run / "arch.json").write_text(json.dumps({**ARCH, "layer1/op0": "conv5x5"}))
    return run


def add_retrain(run: Path, epochs=7, test_acc=0.9123):
    """``retrain/metrics.json`` as ``nascompile retrain`` writes it."""
    (run / "retrain").mkdir(exist_ok=True)
    history = [{"epoch": e, "loss": 1.6 - 0.2 * e, "acc": 0.5 + 0.06 * e, "seconds": 0.4} for e in range(epochs)]
    (run / "retrain" / "metrics.json").write_text(json.dumps({
        "arch": str(run / "arch.json"), "space": {"path": SPACE}, "data": "digits", "seed": 0, "epochs": epochs,
        "lr": 0.05, "cosine": True, "batch_size": 64, "weight_decay": 3e-4, "inherit": False, "drop_path": 0.0,
        "cutout": 0, "auxiliary_weight": 0.0, "params": 23456, "flops": 345678, "train": history,
        "test": {"loss": 0.31, "acc": test_acc}, "seconds": 4.2}))
    return run


def add_rank(run: Path, n=12, failed=1):
    """``rank.json`` as ``nascompile rank`` writes it: ``n`` architectures, ``failed`` of them
    without a stand-alone result (left out of the agreement and of the scatter)."""
    from nascompile.oneshot.ranking import rank_agreement

    rows = []
    for i in range(n):
        ok = i >= failed
        rows.append({"arch": {**ARCH, "layer1/op0": OPS[i % len(OPS)], "head/p": [0.0, 0.25][i % 2]},
                     "one_shot": 0.3 + 0.04 * i, "one_shot_metrics": {"acc": 0.3 + 0.04 * i},
                     "params": 1000 + 250 * i, "flops": 10_000 + i, "stand_alone": (0.5 + 0.03 * ((i * 7) % n)) if ok else None,
                     **({} if ok else {"error": "RuntimeError: out of memory"})})
    k = max(1, n // 4)
    agreement = rank_agreement([r["one_shot"] for r in rows], [r["stand_alone"] for r in rows], k)
    (run / "rank.json").write_text(json.dumps({
        "run": str(run), "algo": "darts", "space": "digits-cnn", "data": "digits", "sample": n, "architectures": n,
        "trial_epochs": 2, "bn_batches": 10, "seed": 0, "trials_dir": str(run / "rank"), "metric": "acc",
        **agreement, "rows": rows, "seconds": 12.5}))
    return agreement
