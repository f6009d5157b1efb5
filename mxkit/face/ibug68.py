"""The iBUG-300W 68-point landmark scheme: groups, left-right mirror pairs, inter-ocular distance.

Index ranges (0-based, "right" = the subject's right = image-left in a frontal photo):

======  ===========================================
0-16    jaw contour, from the subject's right to left
17-21   right brow (outer to inner)
22-26   left brow (inner to outer)
27-30   nose bridge, top to tip
31-35   nostrils / nose base, subject's right to left
36-41   right eye (36 outer corner, 39 inner corner)
42-47   left eye (42 inner corner, 45 outer corner)
48-59   outer lip contour (48 right corner, 54 left corner)
60-67   inner lip contour (60 right corner, 64 left corner)
======  ===========================================
"""

from __future__ import annotations

import numpy as np

from .._checks import check_shape

__all__ = [
    "N_LANDMARKS",
    "LANDMARK_GROUPS",
    "LANDMARK_REGIONS",
    "MIRROR_68",
    "landmark_group",
    "inter_ocular_distance",
]

N_LANDMARKS = 68

#: The five coarse groups used by :func:`mxkit.face.landmark_noise_floor`.
LANDMARK_GROUPS: dict[str, tuple[int, ...]] = {
    "jaw": tuple(range(0, 17)),
    "brows": tuple(range(17, 27)),
    "nose": tuple(range(27, 36)),
    "eyes": tuple(range(36, 48)),
    "mouth": tuple(range(48, 68)),
}

#: Finer regions, with sides named from the subject's point of view.
LANDMARK_REGIONS: dict[str, tuple[int, ...]] = {
    "jaw": tuple(range(0, 17)),
    "right_brow": tuple(range(17, 22)),
    "left_brow": tuple(range(22, 27)),
    "nose_bridge": tuple(range(27, 31)),
    "nose_base": tuple(range(31, 36)),
    "right_eye": tuple(range(36, 42)),
    "left_eye": tuple(range(42, 48)),
    "outer_lips": tuple(range(48, 60)),
    "inner_lips": tuple(range(60, 68)),
}


def _mirror_permutation() -> tuple[int, ...]:
    pairs = [(i, 16 - i) for i in range(8)]                       # jaw
    pairs += [(17 + i, 26 - i) for i in range(5)]                  # brows
    pairs += [(31, 35), (32, 34)]                                  # nostrils
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    pairs += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]    # outer lips
    pairs += [(60, 64), (61, 63), (65, 67)]                        # inner lips
    perm = list(range(N_LANDMARKS))
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return tuple(perm)


#: ``MIRROR_68[i]`` is the landmark that ``i`` becomes when the face is mirrored left-right
#: (e.g. 36 <-> 45, 48 <-> 54); points on the midline (8, 27-30, 33, 51, 57, 62, 66) map
#: to themselves. It is an involution: ``MIRROR_68[MIRROR_68[i]] == i``.
MIRROR_68: tuple[int, ...] = _mirror_permutation()

_GROUP_OF = np.empty(N_LANDMARKS, dtype=object)
for _name, _idx in LANDMARK_GROUPS.items():
    _GROUP_OF[list(_idx)] = _name


def landmark_group(index: int) -> str:
    """Name of the coarse group (``jaw``, ``brows``, ``nose``, ``eyes``, ``mouth``) of a landmark.

    >>> landmark_group(36), landmark_group(8)
    ('eyes', 'jaw')
    """
    return str(_GROUP_OF[int(index)])


def inter_ocular_distance(landmarks: np.ndarray) -> np.ndarray:
    """Distance between the outer eye corners (landmarks 36 and 45), in the landmarks' units.

    Parameters
    ----------
    landmarks : numpy.ndarray, shape (..., 68, 2)
        iBUG-68 landmarks, (u, v) pixels.

    Returns
    -------
    numpy.ndarray, shape (...)
        Inter-ocular distance of each shape (float64).

    >>> pts = np.zeros((68, 2)); pts[45] = (30.0, 40.0)
    >>> float(inter_ocular_distance(pts))
    50.0
    """
    check_shape(landmarks, ("...", N_LANDMARKS, 2), "landmarks")
    pts = np.asarray(landmarks, dtype=np.float64)
    return np.linalg.norm(pts[..., 45, :] - pts[..., 36, :], axis=-1)
