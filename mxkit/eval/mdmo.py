"""MDMO: main directional mean optical flow over facial regions of interest (Liu et al. 2016).

Liu, Zhang, Yan, Wang, Zhao & Fu, "A main directional mean optical-flow feature for spontaneous
micro-expression recognition", IEEE Trans. Affective Computing 7(4) (2016) 299-310.

**Regions of interest.** The paper partitions the face into 36 ROIs drawn on 66 landmarks,
partly following FACS action units. mxkit draws its own partition, :data:`MDMO_ROIS`, of 18
ROIs on the iBUG-68 landmarks of the onset frame (:func:`mdmo_rois`): per side (named from the
subject's view) the inner and outer brow (the brow points and a band above them), the upper
eyelid (between the brow and the upper eye contour), the lower eyelid (a band below the lower
eye contour), the cheek, the mouth corner and the chin side; on the midline the glabella, the
nose, the upper lip and the lips. Bands and squares are sized by the inter-ocular distance
``d`` (outer eye corners 36-45) along the face's own axes (``x`` along 36 -> 45, ``up``
perpendicular): the brow band is ``0.3 d`` high, the lower-eyelid band ``0.15 d``, the
mouth-corner square ``0.2 d`` wide. The eyes themselves are left out (blinks). Polygons are
filled with sub-pixel vertices (OpenCV ``fillPoly``, 4 fractional bits); where two overlap, the
pixel belongs to the earlier ROI of :data:`MDMO_ROIS` (small ROIs first), so the ROIs are
disjoint.

**Feature.** For each flow field ``F_i`` of the clip (by default the onset -> t flows of frames
onset + 1 .. offset of the prepared clip) and each ROI ``k``:

1. the ROI's flow vectors fall into ``bins`` orientation sectors
   (:func:`mxkit.eval.biwoof.orientation_bins`);
2. the **main direction** is the sector holding the most vectors (ties: the lowest sector);
3. ``u_i^k`` is the mean of the vectors in the main sector (Cartesian).

The clip's ``u^k`` is the mean of ``u_i^k`` over the fields (Cartesian), written in polar form
``(rho^k, theta^k)``; the magnitudes are normalised by their maximum over the ROIs,
``rho^k / max_j rho^j`` (left as is when all are zero). The feature is
``(rho^1, theta^1, ..., rho^K, theta^K)``: 2 K = 36 values named ``'mdmo:<roi>:rho'`` and
``':theta'`` (radians, in ``[-pi, pi]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from .._checks import check_finite, check_option, check_shape
from ..errors import InputValueError, ShapeError
from .biwoof import orientation_bins

__all__ = ["MDMO_ROIS", "mdmo_rois", "main_directional_mean", "mdmo", "mdmo_features"]

_BROW = 0.3      # brow band height, x inter-ocular distance
_LID = 0.15      # lower-eyelid band height
_CORNER = 0.1    # half-side of the mouth-corner square

# (name, polygon); a vertex is a landmark index, or (index, along_x, along_up) in units of d.
_RIGHT = {
    "mouth_corner": [(48, -_CORNER, _CORNER), (48, _CORNER, _CORNER), (48, _CORNER, -_CORNER),
                     (48, -_CORNER, -_CORNER)],
    "lower_eyelid": [36, 41, 40, 39, (39, 0, -_LID), (36, 0, -_LID)],
    "inner_brow": [19, 20, 21, (21, 0, _BROW), (20, 0, _BROW), (19, 0, _BROW)],
    "outer_brow": [17, 18, 19, (19, 0, _BROW), (18, 0, _BROW), (17, 0, _BROW)],
    "upper_eyelid": [36, 37, 38, 39, 21, 20, 19, 18, 17],
    "cheek": [(36, 0, -_LID), (39, 0, -_LID), 31, 48, 4, 3, 2, 1],
    "chin": [48, 59, 58, 57, 8, 7, 6, 5, 4],
}


def _mirror_vertex(v: Any) -> Any:
    from ..face.ibug68 import MIRROR_68

    if isinstance(v, tuple):
        return (MIRROR_68[v[0]], -v[1], v[2])
    return MIRROR_68[v]


_MIDLINE = {
    "glabella": [21, (21, 0, _BROW), (22, 0, _BROW), 22, 27],
    "nose": [39, 27, 42, 35, 34, 33, 32, 31],
    "upper_lip": [31, 32, 33, 34, 35, 54, 53, 52, 51, 50, 49, 48],
    "lips": list(range(48, 60)),
}


def _roi_table() -> tuple[tuple[str, tuple], ...]:
    order = ("mouth_corner", "lower_eyelid", "inner_brow", "outer_brow", "upper_eyelid")
    out: list[tuple[str, tuple]] = []
    for part in order:
        out.append((f"right_{part}", tuple(_RIGHT[part])))
        out.append((f"left_{part}", tuple(_mirror_vertex(v) for v in _RIGHT[part])))
    out += [(k, tuple(v)) for k, v in _MIDLINE.items() if k == "glabella"]
    for part in ("cheek", "chin"):
        out.append((f"right_{part}", tuple(_RIGHT[part])))
        out.append((f"left_{part}", tuple(_mirror_vertex(v) for v in _RIGHT[part])))
    out += [(k, tuple(v)) for k, v in _MIDLINE.items() if k != "glabella"]
    return tuple(out)


#: The ROIs in priority order: ``(name, polygon)``; a vertex is an iBUG-68 index or
#: ``(index, along_x, along_up)`` offsets in inter-ocular distances (module docstring).
MDMO_ROIS: tuple[tuple[str, tuple], ...] = _roi_table()


def mdmo_rois(landmarks: Any, shape: tuple[int, int]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Disjoint ROI label image of one face (module docstring).

    Parameters
    ----------
    landmarks : array, shape (68, 2)
        iBUG-68 points, (u, v) pixels of the frame the flow lives in.
    shape : (H, W)

    Returns
    -------
    labels : numpy.ndarray, shape (H, W), int64
        ROI index into ``names`` per pixel, -1 outside every ROI.
    names : tuple of str
        The ROI names of :data:`MDMO_ROIS`, in order.

    Raises
    ------
    InputValueError
        Degenerate landmarks (eye corners 36 and 45 coincide) or NaN / inf.
    """
    import cv2

    pts = np.asarray(landmarks, dtype=np.float64)
    check_shape(pts, (68, 2), "landmarks")
    check_finite(pts, "landmarks")
    H, W = (int(s) for s in shape)
    axis = pts[45] - pts[36]
    d = float(np.hypot(*axis))
    if d <= 1e-9:
        raise InputValueError("landmarks 36 and 45 (outer eye corners) coincide; cannot place the ROIs")
    ex = axis / d
    up = np.array([ex[1], -ex[0]])          # image y points down: 'up' is -y for an upright face
    labels = np.full((H, W), -1, dtype=np.int64)
    names = []
    shift = 4
    for k, (name, poly) in enumerate(MDMO_ROIS):
        verts = []
        for v in poly:
            if isinstance(v, tuple):
                verts.append(pts[v[0]] + d * (v[1] * ex + v[2] * up))
            else:
                verts.append(pts[v])
        mask = np.zeros((H, W), dtype=np.uint8)
        # fillPoly treats integer vertices as pixel centres; shift gives sub-pixel vertices
        cv2.fillPoly(mask, [np.round(np.asarray(verts) * (1 << shift)).astype(np.int32)], 1,
                     lineType=cv2.LINE_8, shift=shift)
        labels[(mask > 0) & (labels < 0)] = k
        names.append(name)
    return labels, tuple(names)


def main_directional_mean(flow: np.ndarray, labels: np.ndarray, n_rois: int, *,
                          bins: int = 8) -> np.ndarray:
    """Per ROI, the mean flow vector (K, 2) of the most populated orientation sector.

    ROIs without pixels give (0, 0).
    """
    idx, _ = orientation_bins(flow, bins)
    out = np.zeros((int(n_rois), 2))
    lab = labels.ravel()
    inside = lab >= 0
    sector = idx.ravel()[inside]
    lab = lab[inside]
    vec = flow.reshape(-1, 2)[inside]
    counts = np.zeros((int(n_rois), int(bins)), dtype=np.int64)
    np.add.at(counts, (lab, sector), 1)
    main = counts.argmax(1)
    keep = sector == main[lab]
    sums = np.zeros((int(n_rois), 2))
    np.add.at(sums, lab[keep], vec[keep])
    n = counts[np.arange(int(n_rois)), main]
    good = n > 0
    out[good] = sums[good] / n[good, None]
    return out


def mdmo(flows: Any, landmarks: Any, *, bins: int = 8) -> tuple[np.ndarray, list[str]]:
    """MDMO of a sequence of flow fields on the ROIs of one set of landmarks (module docstring).

    Parameters
    ----------
    flows : array, shape (N, H, W, 2) or (H, W, 2)
        Flow fields (pixels); channel 0 = u, 1 = v.
    landmarks : array, shape (68, 2)
        The ROIs' landmarks in the flows' pixels (the onset frame's).
    bins : int, default 8
        Orientation sectors.

    Returns
    -------
    values : numpy.ndarray, shape (2 K,)
    names : list of str
    """
    arr = np.asarray(flows, dtype=np.float64)
    if arr.ndim == 3:
        arr = arr[None]
    check_shape(arr, ("N", "H", "W", 2), "flows")
    check_finite(arr, "flows")
    if arr.shape[0] == 0:
        raise ShapeError("mdmo needs at least one flow field")
    labels, names = mdmo_rois(landmarks, arr.shape[1:3])
    K = len(names)
    present = np.bincount(labels[labels >= 0], minlength=K) > 0
    if not present.any():
        raise InputValueError("no MDMO ROI falls inside the frame; are the landmarks in the flow's pixels?")
    mean = np.mean([main_directional_mean(f, labels, K, bins=bins) for f in arr], axis=0)
    rho = np.hypot(mean[:, 0], mean[:, 1])
    theta = np.arctan2(mean[:, 1], mean[:, 0])
    top = rho.max()
    if top > 0:
        rho = rho / top
    values = np.stack([rho, theta], 1).reshape(-1)
    return values, [f"mdmo:{n}:{c}" for n in names for c in ("rho", "theta")]


def mdmo_features(item: Any, *, frames: Literal["onset-offset", "apex"] = "onset-offset", bins: int = 8,
                  flows: Sequence[Any] | np.ndarray | None = None,
                  landmarks: Any = None) -> tuple[np.ndarray, list[str]]:
    """MDMO of one prepared clip (module docstring).

    Parameters
    ----------
    item : Prepared-like
        ``.flow`` (T, S, S, 2) onset -> t flows, ``.landmarks`` (T, 68, 2) in crop pixels,
        ``.onset``, ``.apex``, ``.offset``.
    frames : {'onset-offset', 'apex'}, default 'onset-offset'
        The flow fields averaged: onset -> t for t = onset + 1 .. offset, or the apex's only.
    bins : int, default 8
    flows : array (N, H, W, 2), optional
        Use these fields instead of the prepared clip's (e.g. TV-L1 ones).
    landmarks : array (68, 2), optional
        Default: the clip's onset landmarks.
    """
    check_option(frames, ("onset-offset", "apex"), "frames")
    if landmarks is None:
        lms = getattr(item, "landmarks", None)
        if lms is None:
            raise InputValueError("mdmo_features needs landmarks (item.landmarks or landmarks=)")
        landmarks = np.asarray(lms)[int(getattr(item, "onset", 0))]
    if flows is None:
        seq = getattr(item, "flow", None)
        if seq is None:
            raise InputValueError("mdmo_features needs flows (item.flow or flows=)")
        seq = np.asarray(seq)
        onset = int(getattr(item, "onset", 0))
        if frames == "apex":
            flows = seq[int(item.apex)][None]
        else:
            off = getattr(item, "offset", None)
            off = len(seq) - 1 if off is None else int(off)
            if off <= onset:
                raise InputValueError(f"need offset > onset; got onset {onset}, offset {off}")
            flows = seq[onset + 1:off + 1]
    return mdmo(flows, landmarks, bins=bins)
