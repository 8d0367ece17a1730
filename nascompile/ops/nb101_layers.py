"""The torch modules of NAS-Bench-101 cells: a fixed (pruned) cell and the weight-sharing super cell.

A *pruned* cell is three tuples: ``matrix`` (V x V, strictly upper-triangular 0/1; vertex 0 is the
input, V-1 the output, V >= 2), ``ops`` (V-2 names, one of :attr:`NB101Cell.OPS`) and ``widths``
(V ints: ``widths[0]`` the input's channels, ``widths[V-1]`` the output's, ``widths[t]`` vertex
``t``'s; computed elsewhere, NAS-Bench-101's rule, and passed in).

The forward is NNI 3.0's ``_NasBench101CellFixed``: an interior vertex sums its interior inputs,
each truncated to its own width (first channels), and a 1x1 conv-BN-ReLU projection of the cell
input when the input feeds it; the output concatenates the interior vertices that feed it and adds
a projection of the input when the input feeds it too (or is that projection alone). One fix: a
projection exists only for a vertex the input feeds (NNI builds one for every vertex, 1,747,456
unused weights in its default space).

Like :mod:`.layers`, :class:`NB101Cell` is self-contained (``torch`` and ``nn`` only): a generated
model file embeds its source. :class:`NB101SuperCell` holds every candidate at full width and runs
a pruned cell on slices of them (first channels, full 3x3 kernel); :meth:`NB101SuperCell.fixed`
copies those slices out into an :class:`NB101Cell`.
"""
from __future__ import annotations

import torch
import torch.nn as nn


class NB101Cell(nn.Module):
    """One pruned NAS-Bench-101 cell. Submodules: ``proj{t}`` (conv1x1-BN-ReLU from the cell
    input to ``widths[t]`` channels, only where ``matrix[0][t]``; the output's is ``proj{V-1}``)
    and ``op{t}`` for every interior vertex (conv-BN-ReLU or a parameterless 3x3 max-pool).

    Weights: each ``conv3x3-bn-relu`` vertex ``9 w^2 + 2 w``, ``conv1x1-bn-relu`` ``w^2 + 2 w``,
    ``maxpool3x3`` none, each projection ``in_channels * w + 2 w``."""

    OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
    KERNEL = {"conv3x3-bn-relu": 3, "conv1x1-bn-relu": 1}

    def __init__(self, matrix, ops, widths, eps=1e-5, momentum=0.003):
        super().__init__()
        matrix, ops, widths = NB101Cell.check(matrix, ops, widths)
        self.matrix, self.ops, self.widths = matrix, ops, widths
        n = len(widths)

        def conv_bn_relu(c_in, c_out, k):
            return nn.Sequential(nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False),
                                 nn.BatchNorm2d(c_out, eps=eps, momentum=momentum), nn.ReLU(inplace=False))

        for t in range(1, n):
            if matrix[0][t]:
                setattr(self, f"proj{t}", conv_bn_relu(widths[0], widths[t], 1))
        for t in range(1, n - 1):
            if ops[t - 1] == "maxpool3x3":
                setattr(self, f"op{t}", nn.MaxPool2d(3, 1, 1))
            else:
                setattr(self, f"op{t}", conv_bn_relu(widths[t], widths[t], NB101Cell.KERNEL[ops[t - 1]]))

    @staticmethod
    def check(matrix, ops, widths):
        """Validate a pruned cell; return it as tuples of ints / strings (``ValueError`` if not)."""
        matrix = tuple(tuple(int(v) for v in row) for row in matrix)
        ops, widths = tuple(str(o) for o in ops), tuple(int(w) for w in widths)
        n = len(matrix)
        if n < 2 or any(len(row) != n for row in matrix):
            raise ValueError(f"NB101 cell: matrix must be square with at least 2 vertices, got {matrix}")
        for s in range(n):
            for t in range(n):
                if matrix[s][t] not in (0, 1) or (matrix[s][t] and s >= t):
                    raise ValueError(f"NB101 cell: matrix[{s}][{t}] = {matrix[s][t]}: the matrix must be "
                                     "0/1 and strictly upper-triangular")
        if len(ops) != n - 2:
            raise ValueError(f"NB101 cell: {n} vertices need {n - 2} ops, got {len(ops)}")
        for t, op in enumerate(ops, 1):
            if op not in NB101Cell.OPS:
                raise ValueError(f"NB101 cell: vertex {t}: unknown op {op!r} (one of {NB101Cell.OPS})")
        if len(widths) != n or any(w < 1 for w in widths):
            raise ValueError(f"NB101 cell: {n} vertices need {n} positive widths, got {widths}")
        for t in range(1, n):
            if not any(matrix[s][t] for s in range(t)):
                raise ValueError(f"NB101 cell: vertex {t} has no input (prune the cell first)")
        for t in range(1, n - 1):
            for s in range(1, t):
                if matrix[s][t] and widths[s] < widths[t]:
                    raise ValueError(f"NB101 cell: vertex {s} ({widths[s]} channels) feeds vertex {t} "
                                     f"({widths[t]} channels): it cannot be truncated to more channels")
        concat = sum(widths[s] for s in range(1, n - 1) if matrix[s][n - 1])
        if concat and concat != widths[n - 1]:
            raise ValueError(f"NB101 cell: the vertices feeding the output concatenate to {concat} "
                             f"channels, not the output's {widths[n - 1]}")
        return matrix, ops, widths

    def forward(self, x):
        matrix, widths = self.matrix, self.widths
        n = len(widths)
        tensors = [x]
        for t in range(1, n - 1):
            fan_in = [tensors[s][:, :widths[t]] for s in range(1, t) if matrix[s][t]]
            if matrix[0][t]:
                fan_in.append(getattr(self, f"proj{t}")(x))
            h = fan_in[0]
            for y in fan_in[1:]:
                h = h + y
            tensors.append(getattr(self, f"op{t}")(h))
        srcs = [s for s in range(1, n - 1) if matrix[s][n - 1]]
        if not srcs:
            return getattr(self, f"proj{n - 1}")(x)
        out = torch.cat([tensors[s] for s in srcs], 1) if len(srcs) > 1 else tensors[srcs[0]]
        if matrix[0][n - 1]:
            out = out + getattr(self, f"proj{n - 1}")(x)
        return out

    def extra_repr(self):
        return f"matrix={self.matrix}, ops={self.ops}, widths={self.widths}"


class NB101SuperCell(nn.Module):
    """The weight-sharing NAS-Bench-101 cell of single-path search: for every raw vertex ``t`` in
    ``1..max_nodes-2`` an ``nn.ModuleDict`` ``op{t}`` holding each candidate op at ``out_channels``
    (keyed ``conv3x3_bn_relu``, ``conv1x1_bn_relu``, ``maxpool3x3``), and for every raw vertex ``t``
    in ``1..max_nodes-1`` a projection ``proj{t}`` (conv1x1-BN-ReLU, ``in_channels -> out_channels``).

    :meth:`forward` runs a pruned cell whose interior vertex ``t`` came from raw vertex
    ``kept[t]``: it uses ``op{kept[t]}`` and ``proj{kept[t]}``, and the output (raw vertex
    ``n - 1`` of a cell of ``n`` raw vertices) uses ``proj{kept[-1]}``. Every weight is a slice of
    the full one: conv ``[:w, :w]`` (whole kernel), projection ``[:w]``, BN ``[:w]``; in training
    mode the slices of the BN running statistics update in place."""

    def __init__(self, in_channels, out_channels, max_nodes=7,
                 ops=("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"), eps=1e-5, momentum=0.003):
        super().__init__()
        ops = tuple(ops)
        if max_nodes < 2:
            raise ValueError(f"NB101 super cell: max_nodes must be at least 2, got {max_nodes}")
        for op in ops:
            if op not in NB101Cell.OPS:
                raise ValueError(f"NB101 super cell: unknown op {op!r} (one of {NB101Cell.OPS})")
        if len(set(ops)) != len(ops):
            raise ValueError(f"NB101 super cell: ops repeated: {ops}")
        self.in_channels, self.out_channels, self.max_nodes = int(in_channels), int(out_channels), int(max_nodes)
        self.candidates, self.eps, self.momentum = ops, eps, momentum

        def conv_bn_relu(c_in, c_out, k):
            return nn.Sequential(nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False),
                                 nn.BatchNorm2d(c_out, eps=eps, momentum=momentum), nn.ReLU(inplace=False))

        for t in range(1, max_nodes - 1):
            setattr(self, f"op{t}", nn.ModuleDict({
                self.key(op): nn.MaxPool2d(3, 1, 1) if op == "maxpool3x3"
                else conv_bn_relu(out_channels, out_channels, NB101Cell.KERNEL[op]) for op in ops}))
        for t in range(1, max_nodes):
            setattr(self, f"proj{t}", conv_bn_relu(in_channels, out_channels, 1))

    @staticmethod
    def key(op):
        """The ``nn.ModuleDict`` key of an op name (``conv3x3-bn-relu`` -> ``conv3x3_bn_relu``)."""
        return op.replace("-", "_")

    def check(self, kept, matrix, ops, widths):
        """Validate a pruned cell and where its vertices came from against this super cell."""
        matrix, ops, widths = NB101Cell.check(matrix, ops, widths)
        kept, n = tuple(int(k) for k in kept), len(widths)
        if len(kept) != n or kept[0] != 0 or any(a >= b for a, b in zip(kept, kept[1:])) \
                or kept[-1] > self.max_nodes - 1:
            raise ValueError(f"NB101 super cell: kept {kept} must start at 0, increase, have one raw "
                             f"vertex per pruned vertex ({n}) and end at most at {self.max_nodes - 1}")
        for t, op in enumerate(ops, 1):
            if op not in self.candidates:
                raise ValueError(f"NB101 super cell: vertex {t}: op {op!r} is not a candidate {self.candidates}")
        if widths[0] != self.in_channels or widths[-1] != self.out_channels:
            raise ValueError(f"NB101 super cell: widths {widths} must run from in_channels "
                             f"{self.in_channels} to out_channels {self.out_channels}")
        if max(widths[1:]) > self.out_channels:
            raise ValueError(f"NB101 super cell: widths {widths} exceed out_channels {self.out_channels}")
        return kept, matrix, ops, widths

    @staticmethod
    def _bn(bn, x, w):
        # nn.BatchNorm2d's forward on the first w channels; the running statistics are views, so
        # training mode updates them in place. num_batches_tracked counts every batch, at any width.
        factor = 0.0
        if bn.training and bn.track_running_stats and bn.num_batches_tracked is not None:
            bn.num_batches_tracked.add_(1)
            factor = 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum
        batch_stats = bn.training or bn.running_mean is None
        track = not bn.training or bn.track_running_stats
        mean = bn.running_mean[:w] if track and bn.running_mean is not None else None
        var = bn.running_var[:w] if track and bn.running_var is not None else None
        weight = bn.weight[:w] if bn.weight is not None else None
        bias = bn.bias[:w] if bn.bias is not None else None
        return torch.nn.functional.batch_norm(x, mean, var, weight, bias, batch_stats, factor, bn.eps)

    def _conv_bn_relu(self, seq, x, w, full_in):
        conv, bn, relu = seq
        weight = conv.weight[:w] if full_in else conv.weight[:w, :w]
        y = torch.nn.functional.conv2d(x, weight, None, conv.stride, conv.padding)
        return relu(self._bn(bn, y, w))

    def forward(self, x, kept, matrix, ops, widths):
        kept, matrix, ops, widths = self.check(kept, matrix, ops, widths)
        n = len(widths)
        tensors = [x]
        for t in range(1, n - 1):
            fan_in = [tensors[s][:, :widths[t]] for s in range(1, t) if matrix[s][t]]
            if matrix[0][t]:
                fan_in.append(self._conv_bn_relu(getattr(self, f"proj{kept[t]}"), x, widths[t], True))
            h = fan_in[0]
            for y in fan_in[1:]:
                h = h + y
            op = getattr(self, f"op{kept[t]}")[self.key(ops[t - 1])]
            tensors.append(op(h) if ops[t - 1] == "maxpool3x3" else self._conv_bn_relu(op, h, widths[t], False))
        proj_out = getattr(self, f"proj{kept[-1]}")
        srcs = [s for s in range(1, n - 1) if matrix[s][n - 1]]
        if not srcs:
            return self._conv_bn_relu(proj_out, x, widths[-1], True)
        out = torch.cat([tensors[s] for s in srcs], 1) if len(srcs) > 1 else tensors[srcs[0]]
        if matrix[0][n - 1]:
            out = out + self._conv_bn_relu(proj_out, x, widths[-1], True)
        return out

    def fixed(self, kept, matrix, ops, widths) -> NB101Cell:
        """A standalone :class:`NB101Cell` holding copies of the slices :meth:`forward` would use
        (weights, BN statistics and batch counts), on this cell's device and dtype, in its mode."""
        kept, matrix, ops, widths = self.check(kept, matrix, ops, widths)
        ref = self.proj1[0].weight
        cell = NB101Cell(matrix, ops, widths, eps=self.eps, momentum=self.momentum)
        cell = cell.to(device=ref.device, dtype=ref.dtype)
        n = len(widths)

        def copy(dst, src, w, full_in):
            (dconv, dbn, _), (sconv, sbn, _) = dst, src
            dconv.weight.copy_(sconv.weight[:w] if full_in else sconv.weight[:w, :w])
            for name in ("weight", "bias", "running_mean", "running_var"):
                if getattr(dbn, name) is not None:
                    getattr(dbn, name).copy_(getattr(sbn, name)[:w])
            if dbn.num_batches_tracked is not None and sbn.num_batches_tracked is not None:
                dbn.num_batches_tracked.copy_(sbn.num_batches_tracked)

        with torch.no_grad():
            for t in range(1, n):
                if matrix[0][t]:
                    copy(getattr(cell, f"proj{t}"), getattr(self, f"proj{kept[t]}"), widths[t], True)
            for t in range(1, n - 1):
                if ops[t - 1] != "maxpool3x3":
                    copy(getattr(cell, f"op{t}"), getattr(self, f"op{kept[t]}")[self.key(ops[t - 1])],
                         widths[t], False)
        return cell.train(self.training)

    def extra_repr(self):
        return (f"in_channels={self.in_channels}, out_channels={self.out_channels}, "
                f"max_nodes={self.max_nodes}, ops={self.candidates}")
