"""The report and live page, issue 15: whole-number epoch ticks, legends beside the data, every
decision (value choices included) on the chosen architecture, retraining results, the ranking
scatter, several runs compared; and ``report``/``ui`` on a folder that is not a run.

The browser tests render the page in headless Chromium and measure the DOM there
(``browser.measure``: bounding boxes computed in the page); they skip when Chromium is missing,
except under CI (``CI`` set), where they fail. Screenshots go to the test's tmp_path and to
``browser.SHOTS`` when that folder's parent exists.
"""
import json
import re
from pathlib import Path

from browser import keep_screenshot, measure
from browser.runs import (ARCH, MNIST1D, MNIST1D_ARCH, add_rank, add_retrain, make_multitrial, make_oneshot)
from nascompile.cli import main
from nascompile.ui import collect, collect_runs
from nascompile.ui.arch_view import chosen_values, evaluate_json
from nascompile.ui.compare import run_names

ACCS = (0.5, 0.6, 0.65, 0.7, 0.72, 0.75, 0.76, 0.8, 0.81)  # 9 epochs: a 4-way split ticks at 3, 5, 7


def shoot(html: Path, png: Path, size="1400,2400"):
    keep_screenshot(html.resolve().as_uri(), png, size=size)


def report(runs, out: Path) -> Path:
    assert main(["report", *map(str, runs), "-o", str(out)]) == 0
    return out


# --- without a browser -----------------------------------------------------------------------------
def test_value_choices_are_evaluated_for_the_chosen_architecture(tmp_path):
    snap = collect(make_oneshot(tmp_path / "r", arch={**ARCH, "stem/kernel": 5}))
    network = next(i for i, g in enumerate(snap["space"]["graphs"]) if g["name"] == "network")
    values = snap["arch_values"][str(network)]
    stem = next(n for n in snap["space"]["graphs"][network]["nodes"] if n["name"] == "stem.conv")
    assert [u["at"] for u in stem["uses"]] == ["kernel"] and values["stem.conv"] == ["5"]
    assert values["head.dropout"] == ["0.25"]

    snap = collect(make_oneshot(tmp_path / "m", space=MNIST1D, arch=MNIST1D_ARCH, name="mnist1d-cnn"))
    nodes = {n["name"]: n for n in snap["space"]["graphs"][-1]["nodes"]}
    values = snap["arch_values"][str(len(snap["space"]["graphs"]) - 1)]
    assert values["stem.conv"] == ["32"]  # the width choice of the stem's convolution
    shown = {u["at"]: v for u, v in zip(nodes["features"]["uses"], values["features"]) if v is not None}
    # depth 2: blocks 0 and 1, each with its own op and that op's width; block 2 is not in the network
    assert shown == {"block0": "conv5", "block0/conv5/conv.out": "32", "block1": "sep5",
                     "block1/sep5/sep_conv.out": "32"}


def test_expressions_from_a_run_folder_are_bounded():
    sample = {"w": 16}
    assert evaluate_json({"fn": "mul", "args": [2, {"fn": "ref", "args": ["w"]}]}, sample) == 32
    view = {"graphs": [{"nodes": [{"name": "n", "kind": "call", "label": None, "uses": [
        {"at": "a", "labels": ["w"], "expr": {"fn": "pow", "args": [10, 10 ** 9]}, "under": [], "block": None},
        {"at": "b", "labels": ["w"], "expr": {"fn": "mul", "args": ["x", 10 ** 9]}, "under": [], "block": None},
        {"at": "c", "labels": ["w"], "expr": {"fn": "__import__", "args": ["os"]}, "under": [], "block": None},
        {"at": "d", "labels": ["gone"], "expr": {"fn": "ref", "args": ["gone"]}, "under": [], "block": None},
        {"at": "e", "labels": ["w"], "expr": {"fn": "floordiv", "args": [{"fn": "ref", "args": ["w"]}, 0]},
         "under": [], "block": None},
        {"at": "f", "labels": ["w"], "expr": {"fn": "ref", "args": ["w"]}, "under": [["op", "conv"]], "block": None},
        {"at": "g", "labels": ["w"], "expr": {"fn": "ref", "args": ["w"]}, "under": [], "block": None}]}]}]}
    deep = {"fn": "ref", "args": ["w"]}
    for _ in range(200):
        deep = {"fn": "add", "args": [deep, 1]}
    view["graphs"][0]["nodes"][0]["uses"].append({"at": "h", "labels": ["w"], "expr": deep, "under": [], "block": None})
    # too large, not a function, unknown label, failing, not chosen, too deep: shown unevaluated
    assert chosen_values(view, {"w": 16, "op": "pool"}) == {"0": {"n": [None, None, None, None, None, None, "16", None]}}


def test_a_recorded_view_with_malformed_uses_is_a_problem(tmp_path):
    from nascompile import load_space
    from nascompile.ui.space_view import space_view

    run = make_oneshot(tmp_path / "r")
    view = space_view(load_space(str(Path(MNIST1D).parent / "digits_cnn.yaml")))
    (run / "space_view.json").write_text(json.dumps(view))
    assert collect(run)["space"] == view and collect(run)["arch_values"]
    for bad in ({"at": 1, "labels": [], "under": []}, {"at": "k", "labels": ["x"], "under": [["only-one"]]}, "use"):
        view["graphs"][-1]["nodes"][1]["uses"] = [bad]
        (run / "space_view.json").write_text(json.dumps(view))
        snap = collect(run)
        assert snap["space"] is None and snap["arch_values"] == {}
        assert any("uses of node 'stem.conv'" in p for p in snap["problems"]), snap["problems"]


def test_a_comparison_has_at_most_ten_runs(tmp_path, capsys):
    runs = [str(make_oneshot(tmp_path / f"r{i}")) for i in range(11)]
    assert main(["report", *runs, "-o", str(tmp_path / "x.html")]) == 2
    assert "at most 10" in capsys.readouterr().err


def test_run_names_are_unique():
    assert run_names(["runs/a", "runs/b"]) == ["a", "b"]
    assert run_names(["x/search", "y/search"]) == ["x/search", "y/search"]
    assert run_names(["a", "a"]) == ["a #1", "a #2"]  # one run given twice


def test_report_and_ui_refuse_a_folder_that_is_not_a_run(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for argv in (["report", str(tmp_path / "empty"), "-o", str(tmp_path / "x.html")],
                 ["ui", str(tmp_path / "empty"), "--port", "0"],
                 ["report", str(make_oneshot(tmp_path / "r")), str(tmp_path / "empty"), "-o", str(tmp_path / "y.html")]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "not a run folder" in err and str(tmp_path / "empty") in err
    assert not (tmp_path / "x.html").exists() and not (tmp_path / "y.html").exists()


def test_retrain_and_rank_are_collected(tmp_path):
    run = make_oneshot(tmp_path / "r")
    add_retrain(run, epochs=3)
    agreement = add_rank(run, n=8, failed=2)
    snap = collect(run)
    assert snap["retrain"]["test"] == {"loss": 0.31, "acc": 0.9123} and snap["retrain"]["params"] == 23456
    assert [e["epoch"] for e in snap["retrain"]["curve"]] == [0, 1, 2]
    rank = snap["rank"]
    assert rank["n"] == agreement["n"] == 6 and rank["kendall_tau"] == agreement["kendall_tau"]
    assert sum(r["stand_alone"] is None for r in rank["rows"]) == 2 and rank["rows"][0]["error"].startswith("Runtime")
    (run / "rank.json").write_text('{"rows": 3}')
    (run / "retrain" / "metrics.json").write_text("[1, 2]")
    snap = collect(run)
    assert snap["rank"] is None and snap["retrain"] is None
    assert any("rank.json" in p for p in snap["problems"]) and any("retrain" in p for p in snap["problems"])
    assert main(["report", str(run), "-o", str(tmp_path / "x.html")]) == 2  # the report refuses damaged files


# --- in a real browser ---------------------------------------------------------------------------------
def _integer_ticks(chart) -> bool:
    return len(chart["xticks"]) >= 1 and all(re.fullmatch(r"-?\d[\d,]*", t) for t in chart["xticks"])


def test_report_ticks_legends_retrain_rank(tmp_path, chromium):
    run = make_oneshot(tmp_path / "digits-darts", accs=ACCS)
    add_retrain(run, epochs=7)
    agreement = add_rank(run, n=12, failed=1)
    page = report([run], tmp_path / "oneshot.html")
    m = measure(page, tmp_path / "oneshot.measure.html")
    assert {"retrain", "curves", "controller", "alphas", "rank", "chosen", "space"} <= set(m["sections"])
    counted = [c for c in m["charts"] if c["xaxis"] in ("epoch", "step")]
    assert len(counted) == 8  # loss, accuracy, reward, entropy, 2 arch weights, 2 retrain (one step: no step chart)
    for c in counted:
        assert _integer_ticks(c), (c["id"], c["xticks"])
    epoch_ticks = next(c for c in m["charts"] if c["id"] == "acc")["xticks"]
    assert len(epoch_ticks) >= 3 and set(epoch_ticks) <= {str(e) for e in range(1, len(ACCS) + 1)}
    for c in m["charts"]:
        assert c["legend"] and c["marks"], c["id"]
        assert c["hits"] == 0 and not c["over_plot"], f"the legend of {c['id']} covers its data"
    # retraining: test accuracy in the header and the section, its curves per epoch
    assert "test accuracy 0.9123" in m["header"]
    retrain = [c for c in m["charts"] if c["section"] == "retrain"]
    assert {c["id"] for c in retrain} == {"retrain-loss", "retrain-acc"}
    # ranking: one point per ranked architecture (the failed one is left out)
    assert m["rank_points"] == agreement["n"] == 11
    rank = next(c for c in m["charts"] if c["id"] == "rank")
    assert agreement["top_k"] == 3 and rank["legend"] == ["top 3 by supernet", "other architectures"]
    tau = f"Kendall τ {agreement['kendall_tau']:.3f}"
    assert any(t.startswith("Ranking quality (nascompile rank, darts): " + tau) for t in m["titles"]), m["titles"]
    assert "Retraining (nascompile retrain): test accuracy 0.9123" in m["titles"]
    shoot(page, tmp_path / "report-oneshot-retrain-rank.png")


def test_chosen_architecture_shows_every_decision(tmp_path, chromium):
    digits = make_oneshot(tmp_path / "digits", arch={**ARCH, "stem/kernel": 5})
    mnist = make_oneshot(tmp_path / "mnist1d", space=MNIST1D, arch=MNIST1D_ARCH, name="mnist1d-cnn")
    for run, arch, expect in ((digits, {**ARCH, "stem/kernel": 5}, ["kernel = 5 (stem/kernel)", "p = 0.25 (head/p)"]),
                              (mnist, MNIST1D_ARCH, ["out = 32 (width)", "features/depth = 2", "block0 = conv5 (features/block0)",
                                                     "block1 = sep5 (features/block1)"])):
        page = report([run], tmp_path / f"{run.name}.html")
        m = measure(page, tmp_path / f"{run.name}.measure.html")
        assert set(arch) <= set(m["chosen_labels"]), set(arch) - set(m["chosen_labels"])
        for text in expect:
            assert text in m["chosen_texts"], (text, m["chosen_texts"])
        if run is mnist:
            assert not any("block2" in t for t in m["chosen_texts"])  # not in a depth-2 network
        shoot(page, tmp_path / f"report-chosen-{run.name}.png", size="1800,1400")


def test_report_compares_runs(tmp_path, chromium):
    runs = [make_oneshot(tmp_path / "darts", accs=ACCS), make_oneshot(tmp_path / "enas", accs=(0.3, 0.42, 0.5, 0.55, 0.62, 0.66), algo="enas",
                                                                        arch={**ARCH, "layer1/op0": "conv3x3"}),
            make_multitrial(tmp_path / "evolution")]
    add_retrain(runs[0], epochs=5)
    add_retrain(runs[1], epochs=4, test_acc=0.88)
    page = report(runs, tmp_path / "compare.html")
    snap = collect_runs(runs)
    assert [r["name"] for r in snap["runs"]] == ["darts", "enas", "evolution"]
    m = measure(page, tmp_path / "compare.measure.html")
    assert {"summary", "curves", "chosen"} <= set(m["sections"])
    curves = {c["id"]: c for c in m["charts"] if c["section"] == "curves"}
    for key in ("cmp:valid acc", "cmp:valid loss", "cmp:train loss", "cmp:retrain-loss"):
        assert curves[key]["runs"] == ["darts", "enas"] and curves[key]["legend"] == ["darts", "enas"], key
    assert curves["cmp:best-trial"]["runs"] == ["evolution"]
    for c in curves.values():
        assert _integer_ticks(c) and c["hits"] == 0 and not c["over_plot"], c["id"]
    assert [c["run"] for c in m["run_columns"]] == ["darts", "enas", "evolution"]
    assert all(c["graphs"] >= 1 for c in m["run_columns"])
    # darts: sep_conv3x3, enas: conv3x3, evolution: conv5x5 at layer1/op0; the rest is the same
    assert all(c["differs"] == ["layer1/op0"] for c in m["run_columns"]), m["run_columns"]
    assert "Comparison of 3 runs" in m["titles"] and m["header"] == "3 runsreport"
    shoot(page, tmp_path / "report-compare.png", size="1400,2000")


def test_one_real_run_through_search_retrain_report(tmp_path, chromium):
    """What the commands write (not a hand-made folder): search, retrain, then the report."""
    run = tmp_path / "run"
    assert main(["search", str(Path(MNIST1D).parent / "digits_cnn.yaml"), "--algo", "random", "--epochs", "1", "-q",
                 "--data", "digits", "-o", str(run)]) == 0
    assert main(["retrain", str(run / "arch.json"), "--epochs", "2", "--batch-size", "128"]) == 0
    snap = collect(run)
    assert snap["retrain"]["epochs"] == 2 and 0 <= snap["retrain"]["test"]["acc"] <= 1
    assert len(snap["retrain"]["curve"]) == 2
    m = measure(report([run], tmp_path / "real.html"), tmp_path / "real.measure.html")
    assert "retrain" in m["sections"] and set(json.loads((run / "arch.json").read_text())) <= set(m["chosen_labels"])
    assert all(_integer_ticks(c) for c in m["charts"] if c["xaxis"] == "epoch")
