"""``nni.nas.pytorch.trainer``: the one-shot trainer base (:class:`nascompile.oneshot.OneShotTrainer`:
subclasses supply ``build_mutator`` and ``train_step``, where NNI's supplied ``train_one_epoch``
and ``validate_one_epoch``) and NNI's JSON encoder of tensors."""
import json

from ...oneshot.trainer import OneShotTrainer as Trainer

__all__ = ["Trainer", "TorchTensorEncoder"]


class TorchTensorEncoder(json.JSONEncoder):
    """JSON for tensors: their ``tolist()``."""

    def default(self, o):  # noqa: D102 - json's hook
        if hasattr(o, "tolist"):
            return o.tolist()
        return super().default(o)
