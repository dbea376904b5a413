"""Block layout: the image's planes cut into square cores, each read with a halo around it.

A block is one core of ``block_size x block_size`` pixels (smaller at the image's far edges) of one plane
(one index of the axes other than ``c, y, x``). The cores partition every plane; the *region* a block
predicts is its core grown by ``halo`` pixels on every side, clipped to the image. An object is owned by
the block whose core holds the centre of its bounding box, so it is taken from the one block that sees it
whole (when the halo exceeds the object's size) and from no other.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

__all__ = ["Block", "block_grid", "output_chunk"]


@dataclass(frozen=True)
class Block:
    """One block: ``index`` (its number), ``plane`` (index tuple over the outer axes), core and region.

    ``core`` and ``region`` are ``(y0, y1, x0, x1)`` in plane pixels, end exclusive; ``grid`` is the
    block's ``(row, column)`` in the plane's grid of cores.
    """

    index: int
    plane: tuple
    grid: tuple
    core: tuple
    region: tuple

    def owns(self, cy: float, cx: float) -> bool:
        """True if the point ``(cy, cx)`` (plane pixels) lies in this block's core."""
        y0, y1, x0, x1 = self.core
        return y0 <= cy < y1 and x0 <= cx < x1

    @property
    def name(self) -> str:
        return f"b{self.index:06d}"


def block_grid(outer_shape, plane_shape, block_size: int, halo: int) -> list[Block]:
    """Blocks covering every plane.

    Parameters
    ----------
    outer_shape : tuple of int
        Shape of the axes other than ``y, x`` and channels (``()`` for a 2D image, ``(Z,)`` for a stack).
    plane_shape : (int, int)
        ``(Y, X)``.
    block_size : int
        Side of the square cores, pixels.
    halo : int
        Pixels read around each core; should exceed the largest object.

    Returns
    -------
    list of Block
        Numbered in raster order (plane, then row, then column).

    Raises
    ------
    ValueError
        If ``block_size`` is not positive or ``halo`` is negative.
    """
    if int(block_size) != block_size or block_size < 16:
        raise ValueError(f"block_size must be a whole number of pixels >= 16, got {block_size!r}.")
    if int(halo) != halo or halo < 0:
        raise ValueError(f"halo must be a whole number of pixels >= 0, got {halo!r}.")
    block_size, halo = int(block_size), int(halo)
    h, w = plane_shape
    blocks = []
    for plane in itertools.product(*(range(n) for n in outer_shape)):
        for gy, y0 in enumerate(range(0, h, block_size)):
            for gx, x0 in enumerate(range(0, w, block_size)):
                y1, x1 = min(y0 + block_size, h), min(x0 + block_size, w)
                region = (max(0, y0 - halo), min(h, y1 + halo), max(0, x0 - halo), min(w, x1 + halo))
                blocks.append(Block(len(blocks), tuple(plane), (gy, gx), (y0, y1, x0, x1), region))
    return blocks


def output_chunk(block_size: int) -> int:
    """Side of the output's zarr chunks: 512 when it divides the block size, else the block size.

    Every chunk then lies inside one block's core, so no two tasks ever write the same chunk.
    """
    return 512 if block_size % 512 == 0 else int(block_size)
