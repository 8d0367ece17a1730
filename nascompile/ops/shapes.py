"""Arithmetic on shapes that several op families share (plain ints or symbolic values)."""


def spatial_out(size, kernel, stride, padding, dilation=1):
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def numel(dims):
    out = 1
    for d in dims:
        out = out * d
    return out
