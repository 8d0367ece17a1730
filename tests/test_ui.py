"""The run page: data collection from synthetic run directories, the self-contained report, and
the page rendered in headless Chromium (report file and live server with polling).

The browser tests skip when Chromium is missing, except under CI (``CI`` set), where they fail.
"""
import json
import re
import threading
import urllib.request

from browser import dump_dom, keep_screenshot, measure
from browser.runs import ARCH, OPS, TRIALS, add_rank, add_retrain, epoch_record, make_multitrial, make_oneshot
from nascompile.cli import main
from nascompile.ui import collect, make_server, render_page
from nascompile.ui.collect import as_probs


# --- data collection -------------------------------------------------------------------------
def test_collect_oneshot(tmp_path):
    snap = collect(make_oneshot(tmp_path / "r"))
    assert snap["kind"] == "oneshot" and snap["status"] == "done"
    assert [e["valid"]["acc"] for e in snap["epochs"]] == [0.5, 0.7]  # the half-written line is skipped
    assert snap["best"]["acc"] == 0.7
    assert snap["steps"][0]["loss"] == 2.2
    assert snap["controller"]["reward"] == [0.0, 0.1] and snap["controller"]["entropy"] == [6, 5]
    assert len(snap["arch_probs"]["layer1/op0"]) == 2 and snap["arch_probs"]["layer1/op0"][0][2] == 0.5
    logits = snap["arch_probs"]["layer2/op0"][0]
    assert abs(sum(logits) - 1) < 1e-9 and logits[2] == max(logits)  # softmaxed
    assert snap["arch"] == ARCH
    space = snap["space"]
    assert space["name"] == "digits-cnn" and set(space["decisions"]) == set(ARCH)
    layer1 = next(n for g in space["graphs"] for n in g["nodes"] if n["label"] == "layer1/op0")
    assert layer1["candidates"] == OPS
    json.dumps(snap, allow_nan=False)


def test_collect_tolerates_missing_files(tmp_path):
    (tmp_path / "r").mkdir()
    snap = collect(tmp_path / "r")
    assert snap["kind"] == "empty" and snap["space"] is None and snap["space_error"]
    (tmp_path / "r" / "run.json").write_text(json.dumps({"space": {"path": str(tmp_path / "gone.yaml")}}))
    snap = collect(tmp_path / "r")
    assert snap["kind"] == "oneshot" and snap["epochs"] == [] and snap["space"] is None and snap["space_error"]


def test_collect_arch_probs_records_and_hook(tmp_path):
    from types import SimpleNamespace

    from nascompile.ui.hooks import ArchProbsLogger

    run = make_oneshot(tmp_path / "r", accs=(0.5,))
    (run / "metrics.jsonl").write_text(json.dumps(epoch_record(0, 0.5, probs=False)) + "\n")
    mutator = SimpleNamespace(export_probs=lambda: {"layer1/op0": [0.25, 0.75]})
    trainer = SimpleNamespace(mutator=mutator, metrics_file=run / "metrics.jsonl", is_main=True, global_step=10)
    ArchProbsLogger().on_epoch_end(trainer, 0, {})
    assert collect(run)["arch_probs"] == {"layer1/op0": [[0.25, 0.75]]}
    assert as_probs([1, 1]) == [0.5, 0.5] and as_probs([0.2, 0.8]) == [0.2, 0.8]


def test_collect_multitrial(tmp_path):
    snap = collect(make_multitrial(tmp_path / "m"))
    assert snap["kind"] == "multitrial" and snap["status"] == "done" and snap["run"]["algo"] == "random"
    assert [t["id"] for t in snap["trials"]] == [1, 2, 3, 4, 5]
    assert snap["best"]["id"] == 2 and snap["best"]["metric"] == 0.9
    assert snap["pareto"] == [3, 1, 2]  # cheapest first; trial 4 is dominated, 5 failed
    assert snap["trials"][4]["error"] == "boom"
    assert snap["space"]["name"] == "digits-cnn"


# --- the report --------------------------------------------------------------------------------
URL_ATTR = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


def test_report_is_self_contained(tmp_path, capsys):
    for run in (make_oneshot(tmp_path / "r"), make_multitrial(tmp_path / "m")):
        out = tmp_path / f"{run.name}.html"
        assert main(["report", str(run), "-o", str(out)]) == 0
        html = out.read_text(encoding="utf-8")
        assert not URL_ATTR.search(html)
        assert not re.search(r"<(?:script|link|img|iframe)[^>]*\s(?:src|href)=", html, re.I)  # nothing loaded
        assert "@import" not in html and "url(" not in html
        data = re.search(r'<script type="application/json" id="data">(.*?)</script>', html, re.S).group(1)
        assert json.loads(data)["run"]["dir"] == str(run)


def test_report_escapes_script_end(tmp_path):
    run = make_oneshot(tmp_path / "r")
    (run / "arch.json").write_text(json.dumps({**ARCH, "x": "</script><b>"}))
    html = render_page(collect(run))
    assert "</script><b>" not in html


def test_ui_rejects_a_missing_run(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope"), "-o", str(tmp_path / "x.html")]) == 2
    assert "no such run directory" in capsys.readouterr().err


def test_server_serves_page_and_json(tmp_path):
    server = make_server(make_multitrial(tmp_path / "m"), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        data = json.loads(urllib.request.urlopen(f"http://{host}:{port}/api/run", timeout=10).read())
        assert len(data["trials"]) == 5
        page = urllib.request.urlopen(f"http://{host}:{port}/", timeout=10).read().decode()
        assert "const LIVE = true" in page
    finally:
        server.shutdown()
        server.server_close()


# --- in a real browser -------------------------------------------------------------------------
def _sections(dom):
    return set(re.findall(r'<section id="([a-z]+)"', dom))


def test_report_renders_in_browser(tmp_path, chromium):
    out = tmp_path / "multi.html"
    assert main(["report", str(make_multitrial(tmp_path / "m")), "-o", str(out)]) == 0
    dom = dump_dom(out.as_uri())
    assert 'data-rendered="1"' in dom
    assert len(re.findall(r'<tr class="trial-row', dom)) == len(TRIALS)
    assert "best accuracy 0.9000" in dom
    assert re.search(r'<path class="pareto" d="M[\d.]+,[\d.]+L', dom)
    assert len(re.findall(r'class="trial-point"', dom)) == 4
    assert {"trials", "chosen", "space"} <= _sections(dom)
    assert 'data-mode="chosen"' in dom and "conv5x5" in dom
    m = measure(out, tmp_path / "multi.measure.html")
    scatter = next(c for c in m["charts"] if c["id"] == "trials")
    assert scatter["marks"] == 4 + 1 and scatter["hits"] == 0 and not scatter["over_plot"]  # points + front
    assert scatter["legend"] == ["Pareto front", "other trials"]
    assert all(re.fullmatch(r"\d{1,3}(,\d{3})*", t) for t in scatter["xticks"])  # whole parameter counts
    keep_screenshot(out.as_uri(), tmp_path / "report-multitrial.png")

    out = tmp_path / "oneshot.html"
    assert main(["report", str(make_oneshot(tmp_path / "r")), "-o", str(out)]) == 0
    dom = dump_dom(out.as_uri())
    assert {"curves", "controller", "alphas", "chosen", "space"} <= _sections(dom)
    assert "best accuracy 0.7000" in dom
    assert len(re.findall(r'<path d="M[^"]+" class="series"', dom)) >= 4 + 2 + 12
    assert 'data-chart="alpha:layer1/op0"' in dom and 'data-node="layer1"' in dom
    keep_screenshot(out.as_uri(), tmp_path / "report-oneshot.png")
    print(f"screenshots: {tmp_path}")


def test_live_page_updates_by_polling(tmp_path, chromium):
    run = make_oneshot(tmp_path / "r", accs=(0.5, 0.6), done=False)
    server = make_server(run, "127.0.0.1", 0)
    handler = server.RequestHandlerClass
    served = handler.do_GET

    def do_get(self):  # the search moves on once the page is out: the update only comes by polling
        served(self)
        if self.path == "/":
            with open(run / "metrics.jsonl", "w") as f:
                f.write("".join(json.dumps(epoch_record(e, a)) + "\n" for e, a in enumerate((0.5, 0.6, 0.95))))
            (run / "arch.json").write_text(json.dumps(ARCH))
            add_retrain(run)  # and later commands' results, which the page picks up too
            add_rank(run, n=8, failed=0)
    handler.do_GET = do_get
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        url = f"http://{host}:{port}/"
        dom = dump_dom(url, budget_ms=5000)
        updates = int(re.search(r'data-updates="(\d+)"', dom).group(1))
        assert updates >= 1
        assert "best accuracy 0.9500" in dom and "epochs 3" in dom and "chosen" in _sections(dom)
        assert {"retrain", "rank"} <= _sections(dom) and "test accuracy 0.9123" in dom
        assert len(re.findall(r'class="rank-point"', dom)) == 8
        keep_screenshot(url, tmp_path / "live.png", budget_ms=5000)
    finally:
        server.shutdown()
        server.server_close()
