"""Matplotlib figures of a :class:`~mxkit.pipeline.Prepared` clip (frames x panels grid).

matplotlib is imported when a figure is drawn, never by ``import mxkit.pipeline``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._checks import check_option
from ..errors import InputValueError

__all__ = ["plot_prepared", "PANELS"]

#: Panels of :func:`plot_prepared`, one column each.
PANELS = ("original", "crop", "flow", "arrows", "strain", "magnified")
_TITLES = {"original": "frame + landmarks", "crop": "aligned crop + landmarks", "flow": "flow (colour)",
           "arrows": "flow (arrows)", "strain": "optical strain", "magnified": "EVM magnified"}


def plot_prepared(prep: Any, *, frames: Sequence[int] | None = None,
                  panels: Sequence[str] = ("crop", "flow", "arrows", "strain"), clip: Any = None,
                  arrow_step: int = 8, arrow_gain: float | None = None,
                  max_flow: float | None = None, max_strain: float | None = None,
                  face_only: bool = True, panel_size: float = 2.6) -> Any:
    """Show frames of a prepared clip: crops, landmarks, flow as colour and arrows, strain, EVM.

    Parameters
    ----------
    prep : Prepared
    frames : sequence of int, optional
        Frame indices, one row each; default ``(onset, apex)``.
    panels : sequence of str, default ('crop', 'flow', 'arrows', 'strain')
        Columns, from :data:`PANELS`: ``'original'`` (the clip's frame with ``landmarks_raw``;
        needs ``clip``), ``'crop'`` (aligned crop with ``landmarks``), ``'flow'``
        (:func:`mxkit.flow.flow_to_rgb`, one colour scale for all rows), ``'arrows'`` (flow
        arrows on the face, every ``arrow_step`` px, lengthened by ``arrow_gain``), ``'strain'``
        and ``'magnified'`` (needs ``prepare(..., magnify=...)``).
    clip : mxkit.data.Clip, optional
        The clip ``prep`` was made from (for ``'original'``).
    arrow_step : int, default 8
        Arrow spacing in crop pixels.
    arrow_gain : float, optional
        Arrow length per pixel of flow; default such that the longest arrow is 2.5 steps.
    max_flow, max_strain : float, optional
        Top of the flow colour wheel (px) and of the strain colour bar; default the largest
        flow magnitude and the 99.5th percentile of the strain on the face
        (:meth:`Prepared.face_mask`) over the rows shown.
    face_only : bool, default True
        Show flow and strain on the face mask only (grey outside): elsewhere (background,
        the crop's black border) they are meaningless.
    panel_size : float, default 2.6
        Inches per panel.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    OptionError
        Unknown panel.
    InputValueError
        A frame index out of range, ``'original'`` without ``clip``, ``'magnified'`` without
        magnified frames, bad ``arrow_step``.
    """
    import matplotlib.pyplot as plt

    from ..flow import flow_to_rgb

    for p in panels:
        check_option(p, PANELS, "panel")
    if not panels:
        raise InputValueError("panels must name at least one panel")
    rows = [prep.onset, prep.apex] if frames is None else [int(f) for f in frames]
    bad = [f for f in rows if not 0 <= f < prep.n_frames]
    if bad or not rows:
        raise InputValueError(f"frames must be indices in [0, {prep.n_frames}); got {list(frames or [])}")
    if "original" in panels and clip is None:
        raise InputValueError("panel 'original' needs clip= (the clip prep was made from)")
    if "magnified" in panels and prep.magnified is None:
        raise InputValueError("panel 'magnified' needs prepare(..., magnify=dict(alpha=..., r1=..., r2=...))")
    if isinstance(arrow_step, bool) or not isinstance(arrow_step, (int, np.integer)) or arrow_step < 2:
        raise InputValueError(f"arrow_step must be an int >= 2; got {arrow_step!r}")

    mask = prep.face_mask()
    mag = np.hypot(prep.flow[rows, ..., 0], prep.flow[rows, ..., 1])[:, mask]
    fmax = float(max_flow) if max_flow is not None else max(float(mag.max()), 1e-6)
    smax = (float(max_strain) if max_strain is not None
            else max(float(np.percentile(prep.strain[rows][:, mask], 99.5)), 1e-6))
    gain = arrow_gain if arrow_gain is not None else 2.5 * arrow_step / fmax
    s = prep.size
    yy, xx = np.mgrid[arrow_step // 2:s:arrow_step, arrow_step // 2:s:arrow_step]
    keep = mask[yy, xx]

    fig, axes = plt.subplots(len(rows), len(panels), figsize=(panel_size * len(panels), panel_size * len(rows)),
                             squeeze=False, constrained_layout=True)
    for i, t in enumerate(rows):
        for j, panel in enumerate(panels):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if panel == "original":
                ax.imshow(clip.frame(t))
                pts = prep.landmarks_raw[t]
                ax.scatter(pts[:, 0], pts[:, 1], s=3, c="#00e5ff")
            elif panel == "crop":
                ax.imshow(prep.frames[t])
                pts = prep.landmarks[t]
                ax.scatter(pts[:, 0], pts[:, 1], s=3, c="#00e5ff")
            elif panel == "flow":
                rgb = flow_to_rgb(prep.flow[t], max_magnitude=fmax)
                if face_only:
                    rgb[~mask] = 200
                ax.imshow(rgb)
            elif panel == "arrows":
                ax.imshow(prep.frames[t].mean(axis=2), cmap="gray", vmin=0, vmax=255)
                f = prep.flow[t][yy, xx]
                ax.quiver(xx[keep], yy[keep], gain * f[keep, 0], gain * f[keep, 1], color="#ffcc00",
                          angles="xy", scale_units="xy", scale=1.0, width=0.006)
            elif panel == "strain":
                strain = np.ma.masked_array(prep.strain[t], mask=~mask) if face_only else prep.strain[t]
                cmap = plt.get_cmap("magma").with_extremes(bad="#c8c8c8")
                im = ax.imshow(strain, cmap=cmap, vmin=0.0, vmax=smax)
                if i == len(rows) - 1:
                    fig.colorbar(im, ax=ax, shrink=0.8)
            else:
                ax.imshow(prep.magnified[t])
            if i == 0:
                ax.set_title(_TITLES[panel], fontsize=9)
            if j == 0:
                ax.set_ylabel(f"frame {t} ({prep.phases()[t]})", fontsize=9)
    fig.suptitle(f"{'/'.join(prep.clip_key)}: flow up to {fmax:.2f} px"
                 + (f", arrows x{gain:.0f}" if "arrows" in panels else ""), fontsize=10)
    return fig
