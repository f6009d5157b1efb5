"""Small procedural meshes for tests, benchmarks and demos."""

from __future__ import annotations

import numpy as np

from ..errors import InputValueError

__all__ = ["icosphere"]


def _icosahedron() -> tuple[np.ndarray, np.ndarray]:
    p = (1.0 + 5.0**0.5) / 2.0
    v = np.array([
        [-1, p, 0], [1, p, 0], [-1, -p, 0], [1, -p, 0],
        [0, -1, p], [0, 1, p], [0, -1, -p], [0, 1, -p],
        [p, 0, -1], [p, 0, 1], [-p, 0, -1], [-p, 0, 1],
    ], dtype=np.float64)
    f = np.array([
        [0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11],
        [1, 5, 9], [5, 11, 4], [11, 10, 2], [10, 7, 6], [7, 1, 8],
        [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8], [3, 8, 9],
        [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1],
    ], dtype=np.int64)
    return v / np.linalg.norm(v, axis=1, keepdims=True), f


def icosphere(frequency: int = 4, *, radius: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A geodesic sphere: each icosahedron edge split into ``frequency`` segments.

    Parameters
    ----------
    frequency : int
        Subdivision frequency ``n >= 1`` (1 gives the icosahedron); the sphere has
        ``10 n**2 + 2`` vertices and ``20 n**2`` triangles (``n = 20``: 8,000 triangles).
    radius : float
        Sphere radius (e.g. metres).

    Returns
    -------
    vertices : ndarray, shape (V, 3), float64
        Points on the sphere centred at the origin.
    faces : ndarray, shape (F, 3), int64
        Triangles, counter-clockwise seen from outside.

    Raises
    ------
    InputValueError
        If ``frequency < 1`` or ``radius <= 0``.

    Examples
    --------
    >>> v, f = icosphere(3)
    >>> v.shape, f.shape
    ((92, 3), (180, 3))
    """
    if isinstance(frequency, bool) or not isinstance(frequency, (int, np.integer)) \
            or frequency < 1:
        raise InputValueError(f"frequency must be an integer >= 1; got {frequency!r}")
    if not (np.isfinite(radius) and radius > 0):
        raise InputValueError(f"radius must be positive; got {radius!r}")
    n = int(frequency)
    base_v, base_f = _icosahedron()
    index: dict[tuple, int] = {}
    points: list[np.ndarray] = []

    def vid(corners: tuple[int, int, int], weights: tuple[int, int, int]) -> int:
        key = tuple(sorted((c, w) for c, w in zip(corners, weights, strict=True) if w))
        if key not in index:
            index[key] = len(points)
            p = sum(w * base_v[c] for c, w in key) / n
            points.append(p / np.linalg.norm(p))
        return index[key]

    faces = []
    for a, b, c in base_f:
        corners = (int(a), int(b), int(c))
        grid = {}
        for i in range(n + 1):
            for j in range(n + 1 - i):
                grid[i, j] = vid(corners, (n - i - j, i, j))
        for i in range(n):
            for j in range(n - i):
                faces.append((grid[i, j], grid[i + 1, j], grid[i, j + 1]))
                if i + j < n - 1:
                    faces.append((grid[i + 1, j], grid[i + 1, j + 1], grid[i, j + 1]))
    v = np.asarray(points) * float(radius)
    f = np.asarray(faces, dtype=np.int64)
    # orient outward (counter-clockwise seen from outside)
    normal = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    inward = (normal * v[f].mean(axis=1)).sum(axis=1) < 0
    f[inward] = f[inward][:, ::-1]
    return v, f
