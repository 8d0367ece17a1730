"""Single-Path NAS, path dropout and SMASH under torch.distributed (two gloo ranks on CPU): every
rank ends with the same weights, the same architecture state and the same exported architecture,
as the base trainer promises for DDP."""
from __future__ import annotations

import json
import os
import socket

import pytest
import torch

from helpers.known import make_known

ALGOS = ["single-path-nas", "path-dropout", "smash"]


def _tensors(obj, prefix=""):
    """Every floating tensor of a nested state, flattened to ``{path: list}``."""
    out = {}
    if isinstance(obj, torch.Tensor):
        if obj.is_floating_point():
            out[prefix] = obj.detach().reshape(-1).tolist()
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out.update(_tensors(v, f"{prefix}/{k}"))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out.update(_tensors(v, f"{prefix}/{i}"))
    return out


def _rank_main(rank: int, world: int, port: int, out_dir: str) -> None:
    import torch.distributed as dist

    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:  # one process group for the three trainers: spawning ranks costs more than training here
        for algo in ALGOS:
            t = make_known(algo, epochs=2, num_samples=3, bn_batches=1) if algo != "single-path-nas" \
                else make_known(algo, epochs=2)
            assert t.distributed and t.world_size == world
            t.train()
            state = t.state_dict()
            with open(os.path.join(out_dir, f"{algo}-rank{rank}.json"), "w") as f:
                json.dump({"arch": t.export(), "model": _tensors(state["model"]),
                           "mutator": _tensors(state["mutator"]), "extra": _tensors(state["extra"])}, f)
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import torch.multiprocessing as mp

    out = tmp_path_factory.mktemp("ranks")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_rank_main, args=(2, port, str(out)), nprocs=2, join=True)
    return out


@pytest.mark.parametrize("algo", ALGOS)
def test_ranks_agree(trained, algo):
    r0, r1 = (json.loads((trained / f"{algo}-rank{r}.json").read_text()) for r in range(2))
    assert r0["arch"] == r1["arch"]
    for part in ("model", "mutator", "extra"):
        assert r0[part].keys() == r1[part].keys()
        for k in r0[part]:
            assert torch.allclose(torch.tensor(r0[part][k]), torch.tensor(r1[part][k]), atol=1e-5), (part, k)
    assert r0["model"], "the state compared holds the trained weights"
    if algo == "smash":
        assert r0["extra"], "and the hypernetwork"
