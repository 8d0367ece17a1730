"""Running averages of metrics, as NNI v1's ``nni.nas.pytorch.utils`` had them.

Example::

    meters = AverageMeterGroup()
    meters.update({"loss": 0.7, "acc": 0.5})
    meters.update({"loss": 0.5, "acc": 0.75})
    meters.acc.avg, str(meters)      # 0.625, "loss 0.500000 (0.600000)  acc 0.750000 (0.625000)"
"""
from __future__ import annotations

import logging
from collections import OrderedDict

__all__ = ["AverageMeter", "AverageMeterGroup"]

log = logging.getLogger(__name__)


class AverageMeter:
    """The last value and the running (weighted) average of one metric; ``fmt`` formats both."""

    def __init__(self, name: str, fmt: str = ":f"):
        self.name = name
        self.fmt = fmt
        self.reset()

    def reset(self) -> None:
        self.val = 0
        self.avg = 0
        self.sum = 0
        self.count = 0

    def update(self, val, n: int = 1) -> None:
        """Account ``val`` with weight ``n`` (a one-element tensor counts as its number)."""
        if hasattr(val, "item") and callable(val.item):
            val = val.item()
        if not isinstance(val, (int, float)):
            log.warning("AverageMeter '%s' takes numbers, got %s", self.name, type(val).__name__)
        self.val = val
        self.sum += val * n
        self.count += n
        self.avg = self.sum / self.count

    def __str__(self) -> str:
        return ("{name} {val" + self.fmt + "} ({avg" + self.fmt + "})").format(**self.__dict__)

    def summary(self) -> str:
        return ("{name}: {avg" + self.fmt + "}").format(**self.__dict__)


class AverageMeterGroup:
    """One :class:`AverageMeter` per metric name, made on first :meth:`update`; reach one as
    ``group.acc`` or ``group["acc"]``."""

    def __init__(self):
        self.meters: OrderedDict[str, AverageMeter] = OrderedDict()

    def update(self, data: dict) -> None:
        for k, v in data.items():
            if k not in self.meters:
                self.meters[k] = AverageMeter(k, ":4f")
            self.meters[k].update(v)

    def __getattr__(self, item):
        meters = self.__dict__.get("meters", {})
        if item in meters:
            return meters[item]
        raise AttributeError(item)

    def __getitem__(self, item) -> AverageMeter:
        return self.meters[item]

    def __str__(self) -> str:
        return "  ".join(str(v) for v in self.meters.values())

    def summary(self) -> str:
        return "  ".join(v.summary() for v in self.meters.values())
