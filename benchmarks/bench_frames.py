"""Benchmark of the frame reader: what the completeness check costs next to decoding.

Workload: a smooth random image with sensor-like noise at 640 x 480 (CASME II) and
1280 x 720 (CAS(ME)³), encoded as JPEG (quality 95) and PNG. For each, the median time of
:func:`mxkit._io.image_problem` (JPEG markers walked to EOI, PNG chunk CRCs to IEND), of
``cv2.imdecode`` alone and of :func:`mxkit.data.read_image` (read from disk, check, decode,
BGR -> RGB), in the same run: ``check_ratio`` = check / decode is the overhead of refusing a
truncated frame instead of decoding it grey.

Run ``python -m benchmarks.bench_frames [--quick]``; it prints a Markdown table.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ._common import cli, fmt_load, load_average, machine, median_time

SIZES = ((480, 640), (720, 1280))


def _image(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (shape[0] // 8, shape[1] // 8, 3), dtype=np.uint8)
    img = cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return cv2.add(img, rng.integers(0, 24, img.shape, dtype=np.uint8))


def run(quick: bool = False) -> dict[str, Any]:
    """Median ms per frame of the check, the decode and the whole read, per size and format.

    Returns
    -------
    dict
        ``{"benchmark", "quick", "machine", "load", "rows"}``; one row per (size, format) with
        ``kib``, ``check_ms``, ``decode_ms``, ``read_ms`` and ``check_ratio``.
    """
    import cv2

    from mxkit._io import image_problem
    from mxkit.data import read_image

    repeats = 5 if quick else 30
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for shape in SIZES[:1] if quick else SIZES:
            img = _image(shape)
            for ext, params in ((".jpg", [cv2.IMWRITE_JPEG_QUALITY, 95]), (".png", [])):
                data = cv2.imencode(ext, img, params)[1].tobytes()
                path = Path(tmp) / f"frame{ext}"
                path.write_bytes(data)
                buf = np.frombuffer(data, np.uint8)
                assert image_problem(data) is None
                check = median_time(lambda d=data: image_problem(d), repeats)
                decode = median_time(lambda b=buf: cv2.imdecode(b, cv2.IMREAD_COLOR), repeats)
                read = median_time(lambda p=path: read_image(p), repeats)
                rows.append({"size": f"{shape[1]}x{shape[0]}", "format": ext[1:], "kib": len(data) / 1024,
                             "check_ms": check * 1e3, "decode_ms": decode * 1e3, "read_ms": read * 1e3,
                             "check_ratio": check / decode})
    return {"benchmark": "frames", "quick": quick, "machine": machine(), "load": load_average(), "rows": rows}


def to_markdown(result: dict[str, Any]) -> str:
    """Format :func:`run`'s result as a Markdown table."""
    lines = [f"Frame reading: completeness check vs decode (median of the same run), quick={result['quick']}, "
             f"{result['machine']}, load {fmt_load(result['load'])}", "",
             "| size | format | KiB | check ms | decode ms | read_image ms | check / decode |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['size']} | {r['format']} | {r['kib']:.0f} | {r['check_ms']:.2f} | "
                     f"{r['decode_ms']:.2f} | {r['read_ms']:.2f} | {r['check_ratio']:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    cli(__doc__, run, to_markdown)
