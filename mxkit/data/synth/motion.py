"""What SynthME subjects do: AU recipes per emotion, intensity profiles, head motion, and the
fine-detail field outside the blendshape span.

Recipes follow the CASME II coding conventions (``DATASETS.md`` §1.3, objective classes of
§1.4): happiness AU6+12 (often AU12 alone or one-sided), disgust AU9 / AU10 / AU4+7 /
4+L10, surprise AU1+2 (+5 or +27), repression AU14 / 15 / 17 / 24 and their pairs, sadness
AU1+4+15, fear AU1+2+4 or AU20, others the remaining small actions (AU4, AU7, AU18, mixed
one-sided pairs). Only AUs that ``mh-head`` can drive are used, and strings are written as
CASME II writes them (``"6+12"``, ``"4+L10"``).

The **detail field** is a sum of smooth random bumps (3-6 mm wide) around points inside the
active AU regions, weighted by the AU masks, from which every component along the expression
shapes has been removed (exactly, with the same weights, so it stays zero outside the
regions); see :func:`detail_field`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import InputValueError

if TYPE_CHECKING:  # pragma: no cover
    from ...morph import FaceModel

__all__ = ["EMOTION_RECIPES", "EMOTIONS", "EMOTION_WEIGHTS", "recipe_aus", "intensity_profile",
           "head_motion", "detail_field", "detail_weights", "peak_blendshape_motion"]

#: AU combinations per CASME II emotion (repeats weight the common ones).
EMOTION_RECIPES: dict[str, tuple[str, ...]] = {
    "happiness": ("6+12", "6+12", "12", "L12", "R6+R12"),
    "disgust": ("9", "10", "L10", "4+7", "4+9", "4+L10", "9+10"),
    "surprise": ("1+2", "1+2", "1+2+5", "1+L2", "1+2+27"),
    "repression": ("14", "15", "17", "24", "14+17", "15+17", "L14", "17+24"),
    "sadness": ("1+4+15", "1+4", "1+15", "15+17"),
    "fear": ("1+2+4", "20", "4+20", "1+2+4+20"),
    "others": ("4", "7", "18", "L12+R15", "1+4"),
}
#: Emotion labels, in CASME II's spelling.
EMOTIONS: tuple[str, ...] = tuple(EMOTION_RECIPES)
#: CASME II's label frequencies (2014 coding file, DATASETS.md §1.1).
EMOTION_WEIGHTS: dict[str, float] = {"happiness": 32, "disgust": 63, "surprise": 25,
                                     "repression": 27, "sadness": 7, "fear": 2, "others": 99}
# the jaw drop moves ~4x more than any other AU at equal weight: scaled down
_AU_GAIN = {27: 0.4}


def recipe_aus(au_string: str, intensity: float, rng: np.random.Generator | None = None,
               jitter: float = 0.15) -> dict[str, float]:
    """Peak AU intensities for an AU string such as ``"4+L10"``.

    Parameters
    ----------
    au_string : str
        ``+``-separated AUs, optionally ``L``/``R`` prefixed.
    intensity : float
        Base peak intensity in (0, 1] (AU27, the jaw drop, gets 40 % of it).
    rng : numpy.random.Generator, optional
        Draws a per-AU factor in ``[1 - jitter, 1 + jitter]`` (none when omitted).
    jitter : float

    Returns
    -------
    dict of str to float
        Keys as :meth:`FaceModel.aus_to_expression` reads them (``"AU4"``, ``"L10"``).
    """
    from ..aus import parse_aus

    out: dict[str, float] = {}
    for au in parse_aus(au_string):
        key = f"{au.side}{au.number}" if au.side else f"AU{au.number}"
        f = 1.0 if rng is None else float(rng.uniform(1.0 - jitter, 1.0 + jitter))
        out[key] = round(float(np.clip(intensity * f * _AU_GAIN.get(au.number, 1.0), 0.02, 1.0)), 4)
    if not out:
        raise InputValueError(f"AU string {au_string!r} names no AU")
    return out


def intensity_profile(n_frames: int, onset: int, apex: int, offset: int) -> np.ndarray:
    """Onset -> apex -> offset intensity: 0 before the onset and after the offset, rising as
    ``sin^2`` to 1 at the apex and falling as ``cos^2`` back to 0 at the offset.

    Returns
    -------
    ndarray, shape (n_frames,), float32 in [0, 1]
    """
    if not 0 <= onset <= apex <= offset < n_frames:
        raise InputValueError(f"need 0 <= onset <= apex <= offset < n_frames; got {onset}, {apex}, "
                              f"{offset}, {n_frames}")
    t = np.arange(n_frames, dtype=np.float64)
    p = np.zeros(n_frames)
    if apex > onset:
        s = (t - onset) / (apex - onset)
        rise = (t >= onset) & (t <= apex)
        p[rise] = np.sin(0.5 * np.pi * s[rise]) ** 2
    if offset > apex:
        s = (t - apex) / (offset - apex)
        fall = (t >= apex) & (t <= offset)
        p[fall] = np.cos(0.5 * np.pi * s[fall]) ** 2
    p[apex] = 1.0
    p[:onset + 1] = 0.0 if apex > onset else p[:onset + 1]
    p[offset:] = 0.0 if offset > apex else p[offset:]
    return p.astype(np.float32)


def _smooth_signal(rng: np.random.Generator, t: np.ndarray, amplitude: np.ndarray,
                   freq: tuple[float, float]) -> np.ndarray:
    """(T, 3) sums of three sinusoids per axis, scaled so that max |x| = amplitude per axis."""
    out = np.zeros((len(t), 3))
    for k in range(3):
        f = rng.uniform(*freq, 3)
        ph = rng.uniform(0, 2 * np.pi, 3)
        a = rng.uniform(0.3, 1.0, 3)
        out[:, k] = (a[None] * np.sin(2 * np.pi * f[None] * t[:, None] + ph[None])).sum(1)
    peak = np.abs(out).max(0)
    return out * (amplitude / np.where(peak > 0, peak, 1.0))[None]


def head_motion(n_frames: int, fps: float, rng: np.random.Generator, *,
                max_rotation_deg: float = 1.5, max_translation_mm: float = 2.0
                ) -> tuple[np.ndarray, np.ndarray]:
    """Small, smooth head motion: rotations (axis-angle, rad) and translations (m), (T, 3) each.

    Each axis is a sum of three sinusoids of 0.2-1.5 Hz with random phases, scaled to a
    random peak below ``max_rotation_deg`` (roll at most half of it) and
    ``max_translation_mm`` (depth at most 60 % of it).
    """
    t = np.arange(n_frames) / float(fps)
    rot_amp = np.radians(rng.uniform(0.15, 1.0, 3) * max_rotation_deg * np.array([1.0, 1.0, 0.5]))
    tr_amp = rng.uniform(0.15, 1.0, 3) * max_translation_mm * 1e-3 * np.array([1.0, 1.0, 0.6])
    rot = _smooth_signal(rng, t, rot_amp, (0.2, 1.5))
    tr = _smooth_signal(rng, t, tr_amp, (0.2, 1.2))
    return rot.astype(np.float32), tr.astype(np.float32)


def _skin(model: FaceModel) -> np.ndarray:
    return model.part_mask("skin") if "skin" in model.part_names else np.ones(model.n_vertices, bool)


def detail_weights(model: FaceModel, aus: Mapping[str, float] | Sequence[str]) -> np.ndarray:
    """Soft support (V,) in [0, 1] of the detail field: the union ``1 - prod(1 - m_a)`` of the
    active AUs' region masks on the skin. One-sided AUs (``L12``) use the side's half of the
    mask with a 6 mm ramp from the midline, so the support stays inside the model's lateral
    mask and the weights stay smooth."""
    from ...morph.au import parse_au_key

    x = model.v_template[:, 0].detach().cpu().numpy().astype(np.float64)
    keep = np.ones(model.n_vertices)
    for key in aus:
        _, side = parse_au_key(key)
        m = model.au_region_mask(key).astype(np.float64)
        if side is not None:
            s = np.clip((x if side == "L" else -x) / 0.006, 0.0, 1.0)
            m = m * s * s * (3 - 2 * s)
        keep *= 1.0 - np.clip(m, 0.0, 1.0)
    return (1.0 - keep) * _skin(model)


def _expr_basis(model: FaceModel) -> np.ndarray:
    return model.expr_basis.detach().cpu().numpy().astype(np.float64).reshape(model.n_expressions, -1)


def peak_blendshape_motion(model: FaceModel, aus: Mapping[str, float]) -> float:
    """Largest skin-vertex displacement (m) of the blendshape part at the AU peak."""
    import torch

    with torch.no_grad():
        w = model.aus_to_expression(dict(aus))[0].detach().cpu().numpy().astype(np.float64)
    d = (w @ _expr_basis(model)).reshape(-1, 3)
    return float(np.linalg.norm(d[_skin(model)], axis=1).max())


def detail_field(model: FaceModel, aus: Mapping[str, float], amplitude: float,
                 rng: np.random.Generator, *, bumps_per_au: tuple[int, int] = (2, 4),
                 radius_mm: tuple[float, float] = (3.0, 6.0)) -> np.ndarray:
    """A fine-detail displacement field outside the blendshape span.

    Built as ``f = w * g - sum_e c_e w^2 B_e``: ``g`` is a sum of Gaussian bumps (mostly
    along the surface normal) centred inside the AU regions, ``w`` the soft support of
    :func:`detail_weights`, ``B_e`` the expression shapes, and ``c`` solves
    ``<f, B_e> = 0`` for every ``e``. So ``f`` is smooth, exactly zero where ``w = 0``, and
    orthogonal to every expression shape (no ARKit weights can express it). It is scaled so
    that its largest vertex displacement is ``amplitude``.

    Parameters
    ----------
    model : FaceModel
    aus : mapping of str to float
        Active AUs (keys as in :func:`recipe_aus`).
    amplitude : float
        Largest per-vertex norm, metres.
    rng : numpy.random.Generator
    bumps_per_au, radius_mm : pairs
        Ranges of the number of bumps per AU and of their Gaussian radius.

    Returns
    -------
    ndarray, shape (V, 3), float32
        Metres, model frame.
    """
    from ...render import vertex_normals

    V = model.v_template.detach().cpu().numpy().astype(np.float64)
    F = model.faces.detach().cpu().numpy()
    normals = vertex_normals(V, F)
    w = detail_weights(model, aus)
    B = _expr_basis(model)
    for _ in range(4):
        g = np.zeros_like(V)
        for key in aus:
            m = detail_weights(model, [key])
            cand = np.flatnonzero(m > 0.5 * m.max()) if m.max() > 0 else np.array([], int)
            if not len(cand):
                continue
            for c in rng.choice(cand, size=int(rng.integers(bumps_per_au[0], bumps_per_au[1] + 1))):
                r = rng.uniform(*radius_mm) * 1e-3
                tangent = np.cross(normals[c], rng.standard_normal(3))
                direction = normals[c] * rng.choice([-1.0, 1.0]) + 0.5 * tangent / max(np.linalg.norm(tangent), 1e-12)
                bump = np.exp(-0.5 * ((V - V[c]) ** 2).sum(1) / r ** 2)
                g += rng.uniform(0.5, 1.0) * bump[:, None] * direction[None]
        cols = np.repeat(3 * np.flatnonzero(w > 0), 3) + np.tile(np.arange(3), int((w > 0).sum()))
        Bs = B[:, cols]                                   # the shapes on the support only
        wg = (w[:, None] * g).ravel()[cols]
        W2B = Bs * np.repeat(w[w > 0] ** 2, 3)[None]
        c = np.linalg.lstsq(W2B @ Bs.T, Bs @ wg, rcond=1e-10)[0]
        f = np.zeros(V.size)
        f[cols] = wg - c @ W2B
        f = f.reshape(-1, 3)
        peak = float(np.linalg.norm(f, axis=1).max())
        if peak > 1e-9:
            return (f * (amplitude / peak)).astype(np.float32)
    return np.zeros_like(V, dtype=np.float32)


def check_au_string(model: FaceModel, au_string: Any) -> str:
    """``au_string`` as text if every AU in it is one ``model`` can drive, else a typed error."""
    from ..aus import parse_aus

    text = str(au_string).strip()
    try:
        aus = parse_aus(text)
    except InputValueError as exc:
        raise InputValueError(f"au_string {au_string!r} cannot be parsed: {exc}") from None
    bad = [f"AU{a.number}" for a in aus if f"AU{a.number}" not in model.au_names]
    if not aus or bad:
        raise InputValueError(f"au_string {au_string!r}: the model cannot drive {bad or 'no AU'}; "
                              f"available: {list(model.au_names)}")
    return text
