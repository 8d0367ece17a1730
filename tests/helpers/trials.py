"""A multi-trial space and a trial script that succeeds, crashes, hangs or exits silently, for
the executor, Ray and command-line tests."""
from __future__ import annotations

import textwrap

from . import ROOT

__all__ = ["SPACE", "TRIAL"]

SPACE = str(ROOT / "examples" / "digits_cnn.yaml")

TRIAL = textwrap.dedent("""
    import json, os, sys, time
    arch = json.load(open(os.environ["NASCOMPILE_TRIAL_PARAMETERS"]))
    mode = sys.argv[1] if len(sys.argv) > 1 else arch.get("mode", "ok")
    if arch.get("stem/kernel") == 5:
        mode = "crash"
    if mode == "crash":
        raise RuntimeError("boom in the trial")
    if mode == "hang":
        time.sleep(600)
    if mode == "silent":
        sys.exit(0)
    with open(os.environ["NASCOMPILE_TRIAL_RESULTS"], "a") as f:
        f.write(json.dumps({"type": "final", "value": {"default": 0.5, "loss": 1.0}}) + "\\n")
""")
