"""Benchmark of mxkit.face: detection and landmark time per frame, and landmark jitter.

Workload: ``skimage.data.astronaut()`` (a real frontal face, 512 x 512; the face box is
about 90 px wide) and its 256 x 256 downscale (face about 45 px, which dlib's HOG detector
only finds with ``upsample >= 1``). For sequences, a clip of the image translated by
sub-pixel steps along a known path: an ideal detector follows it exactly, so the residual
after removing the known motion is the detector's jitter (its noise floor).

Run ``python -m benchmarks.bench_landmarks [--quick]``; it prints a Markdown table.
"""

from __future__ import annotations

import argparse
import platform
import time
from typing import Any

import numpy as np

SIZES = (256, 512)


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _image(size: int) -> np.ndarray:
    import cv2
    from skimage.data import astronaut

    img = astronaut()
    if size == img.shape[0]:
        return img
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)


def shifted_clip(image: np.ndarray, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``(T, H, W, 3)`` translated by known sub-pixel shifts ``(T, 2)`` (u, v) px."""
    import cv2

    t = np.arange(n_frames, dtype=np.float64)
    shifts = np.stack([0.23 * t, -0.11 * t + 0.3 * np.sin(t / 3.0)], axis=1)
    h, w = image.shape[:2]
    frames = [cv2.warpAffine(image, np.array([[1.0, 0.0, du], [0.0, 1.0, dv]]), (w, h),
                             flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
              for du, dv in shifts]
    return np.stack(frames), shifts


def _jitter_px(points: np.ndarray, shifts: np.ndarray) -> float:
    """RMS per-axis residual after removing the known shifts and each landmark's mean."""
    res = points.astype(np.float64) - shifts[:, None, :]
    res -= res.mean(axis=0, keepdims=True)
    return float(np.sqrt((res ** 2).mean()))


def run(quick: bool = False) -> dict[str, Any]:
    """Time per frame of detection, landmarks, tracking and alignment, plus jitter.

    Parameters
    ----------
    quick : bool, default False
        Fewer frames and timing repeats (a smoke run, seconds).

    Returns
    -------
    dict
        ``{"benchmark", "n_frames", "quick", "machine", "rows"}``; one row per image size with
        ``detect_up1_ms`` / ``detect_up0_ms`` (``detect_faces``, HOG; ``None`` when no face is
        found), ``predict_ms`` / ``predict_up4_ms`` (68 points in a given box, plain dlib and
        ``DlibBackend(upscale=4)``), ``landmarks_ms`` (``detect_landmarks``, detection
        included), ``seq_raise_ms`` / ``seq_track_ms`` (``detect_landmarks_sequence`` per
        frame), ``align_ms`` (``align_clip`` per frame, 256 px output), ``jitter_px`` /
        ``jitter_up4_px`` (RMS residual on the shifted clip, px of that image size).
    """
    from mxkit.face import (
        DlibBackend,
        align_clip,
        detect_faces,
        detect_landmarks,
        detect_landmarks_sequence,
    )

    n_frames = 8 if quick else 40
    repeats = 2 if quick else 10
    up4 = DlibBackend(upscale=4)
    rows = []
    for size in SIZES:
        img = _image(size)
        lm = detect_landmarks(img)            # warm-up: loads the detector and the predictor
        box = lm.box
        up0 = detect_faces(img, upsample=0)
        frames, shifts = shifted_clip(img, n_frames)
        seq = {}
        for policy in ("raise", "track"):
            start = time.perf_counter()
            seq[policy] = detect_landmarks_sequence(frames, policy=policy, progress=False)
            seq[policy + "_s"] = (time.perf_counter() - start) / n_frames
        seq_up4 = detect_landmarks_sequence(frames, backend=up4, policy="track", progress=False)
        start = time.perf_counter()
        align_clip(frames, seq["track"].points, output_size=256)
        align_s = (time.perf_counter() - start) / n_frames
        rows.append({
            "image_size": size,
            "face_box_px": round(box.width),
            "detect_up1_ms": 1e3 * _median_time(lambda i=img: detect_faces(i, upsample=1), repeats),
            "detect_up0_ms": (1e3 * _median_time(lambda i=img: detect_faces(i, upsample=0), repeats)
                              if up0 else None),
            "predict_ms": 1e3 * _median_time(lambda i=img, b=box: detect_landmarks(i, box=b), repeats),
            "predict_up4_ms": 1e3 * _median_time(
                lambda i=img, b=box: detect_landmarks(i, box=b, backend=up4), repeats),
            "landmarks_ms": 1e3 * _median_time(lambda i=img: detect_landmarks(i), repeats),
            "seq_raise_ms": 1e3 * seq["raise_s"],
            "seq_track_ms": 1e3 * seq["track_s"],
            "align_ms": 1e3 * align_s,
            "jitter_px": _jitter_px(seq["track"].points, shifts),
            "jitter_up4_px": _jitter_px(seq_up4.points, shifts),
        })
    return {
        "benchmark": "landmarks",
        "n_frames": n_frames,
        "quick": quick,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "rows": rows,
    }


def to_markdown(result: dict[str, Any]) -> str:
    """Format :func:`run`'s result as a Markdown table."""

    def ms(v: float | None) -> str:
        return "no face" if v is None else f"{v:.1f}"

    lines = [
        f"Landmark benchmark: skimage astronaut, {result['n_frames']}-frame sub-pixel shifted clip, "
        f"quick={result['quick']} (ms per frame; jitter = RMS px after removing the known motion)",
        "",
        "| size | face px | detect up=1 | detect up=0 | predict | predict up4 | detect+predict "
        "| seq raise | seq track | align 256 | jitter | jitter up4 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['image_size']} | {r['face_box_px']} | {ms(r['detect_up1_ms'])} | "
            f"{ms(r['detect_up0_ms'])} | {ms(r['predict_ms'])} | {ms(r['predict_up4_ms'])} | "
            f"{ms(r['landmarks_ms'])} | {ms(r['seq_raise_ms'])} | {ms(r['seq_track_ms'])} | "
            f"{ms(r['align_ms'])} | {r['jitter_px']:.3f} | {r['jitter_up4_px']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames and repeats")
    args = parser.parse_args(argv)
    print(to_markdown(run(quick=args.quick)))


if __name__ == "__main__":
    main()
