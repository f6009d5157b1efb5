"""Self-contained HTML reports: text, tables, static figures and interactive 3D in one file.

A :class:`Report` collects sections in order and writes **one** HTML file that works offline:
plotly.js is embedded once (about 4.8 MB) however many interactive figures the report holds,
matplotlib/seaborn figures are embedded as PNG data URIs, DataFrames become styled tables.
The main job (``mxkit demo``) writes its ``report.html`` with it; notebooks can too::

    report = Report("My study")
    report.heading("Micro-motion error")
    report.table(df, caption="mm, after rigid alignment")
    report.plotly(fig)                       # e.g. mxkit.viz.plot_displacement(...)
    report.figure(mpl_fig)                   # e.g. mxkit.viz.plot_confusion(...)
    report.save("outputs/report.html")

The page carries ``data-mxkit-report`` and one ``div.mxkit-plotly`` per interactive figure,
so a headless browser can check that every figure was drawn.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._io import atomic_write
from .errors import InputValueError

__all__ = ["Report", "markdown_table"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;
background:#fafafa}
main{max-width:1180px;margin:0 auto;padding:24px 32px 64px}
h1{font-size:1.7em;margin:0.2em 0}h2{margin-top:1.8em;border-bottom:1px solid #ddd;
padding-bottom:4px}h3{margin-top:1.3em}
p.lead{color:#555}.meta{color:#777;font-size:0.85em}
table.mx{border-collapse:collapse;margin:8px 0 4px;font-size:0.9em;background:#fff}
table.mx th,table.mx td{border:1px solid #ddd;padding:4px 10px;text-align:right}
table.mx th{background:#f0f0f0}table.mx td:first-child,table.mx th:first-child{text-align:left}
.caption{color:#666;font-size:0.85em;margin-bottom:14px}
figure{margin:10px 0 18px}figure img{max-width:100%;background:#fff}
.kv{display:grid;grid-template-columns:max-content auto;gap:2px 18px;font-size:0.95em}
.kv div:nth-child(odd){color:#666}
pre{background:#f3f3f3;padding:8px 12px;overflow-x:auto}
nav a{margin-right:14px}
"""


@dataclass
class Report:
    """An HTML report assembled section by section (see the module docstring).

    Parameters
    ----------
    title : str
        Page title and top heading.
    subtitle : str, optional
        A lead paragraph under the title.
    """

    title: str
    subtitle: str | None = None
    _parts: list[str] = field(default_factory=list, repr=False)
    _toc: list[tuple[str, str]] = field(default_factory=list, repr=False)
    _n_plotly: int = field(default=0, repr=False)

    # ------------------------------------------------------------------ sections
    def heading(self, text: str, *, level: int = 2) -> Report:
        """A section heading (level 2 headings appear in the page's navigation bar)."""
        if level not in (2, 3):
            raise InputValueError(f"level must be 2 or 3; got {level!r}")
        anchor = f"s{len(self._toc) + 1}"
        if level == 2:
            self._toc.append((anchor, text))
        self._parts.append(f'<h{level} id="{anchor}">{html.escape(text)}</h{level}>')
        return self

    def text(self, text: str) -> Report:
        """A paragraph of plain text (escaped; blank lines separate paragraphs)."""
        for para in str(text).split("\n\n"):
            if para.strip():
                self._parts.append(f"<p>{html.escape(para.strip())}</p>")
        return self

    def code(self, text: str) -> Report:
        """A preformatted block (a command, a log excerpt)."""
        self._parts.append(f"<pre>{html.escape(str(text))}</pre>")
        return self

    def key_values(self, items: dict[str, Any]) -> Report:
        """A two-column list of labels and values."""
        cells = "".join(f"<div>{html.escape(str(k))}</div><div>{html.escape(str(v))}</div>"
                        for k, v in items.items())
        self._parts.append(f'<div class="kv">{cells}</div>')
        return self

    def table(self, df: Any, *, caption: str | None = None, float_format: str = "{:.3f}",
              index: bool = False) -> Report:
        """A pandas DataFrame as a table; floats formatted with ``float_format``."""
        import pandas as pd

        if not isinstance(df, pd.DataFrame):
            raise InputValueError(f"table() needs a pandas DataFrame; got {type(df).__name__}")

        def fmt(x: Any) -> str:
            if isinstance(x, float):
                return "" if x != x else float_format.format(x)
            return str(x)

        body = df.to_html(index=index, classes="mx", border=0, escape=True,
                          formatters={c: fmt for c in df.columns}, na_rep="")
        self._parts.append(body)
        if caption:
            self._parts.append(f'<div class="caption">{html.escape(caption)}</div>')
        return self

    def figure(self, fig: Any, *, caption: str | None = None, dpi: int = 110) -> Report:
        """A matplotlib (or seaborn) figure, embedded as a PNG."""
        if not hasattr(fig, "savefig"):
            raise InputValueError(f"figure() needs a matplotlib Figure; got {type(fig).__name__}")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        cap = f"<figcaption class='caption'>{html.escape(caption)}</figcaption>" if caption else ""
        self._parts.append(f'<figure><img alt="{html.escape(caption or "figure")}" '
                           f'src="data:image/png;base64,{data}">{cap}</figure>')
        return self

    def image(self, image: Any, *, caption: str | None = None) -> Report:
        """An RGB image array ``(H, W, 3)`` (uint8, or float in [0, 1]) embedded as a PNG."""
        import cv2
        import numpy as np

        a = np.asarray(image)
        if a.ndim != 3 or a.shape[2] != 3:
            raise InputValueError(f"image() needs an (H, W, 3) array; got shape {a.shape}")
        if a.dtype != np.uint8:
            a = (np.clip(a, 0, 1) * 255).round().astype(np.uint8)
        ok, png = cv2.imencode(".png", cv2.cvtColor(a, cv2.COLOR_RGB2BGR))
        if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 image
            raise InputValueError("could not encode the image as PNG")
        data = base64.b64encode(png.tobytes()).decode("ascii")
        cap = f"<figcaption class='caption'>{html.escape(caption)}</figcaption>" if caption else ""
        self._parts.append(f'<figure><img alt="{html.escape(caption or "image")}" '
                           f'src="data:image/png;base64,{data}">{cap}</figure>')
        return self

    def plotly(self, fig: Any, *, caption: str | None = None) -> Report:
        """An interactive plotly figure (plotly.js is embedded once per report)."""
        from plotly.basedatatypes import BaseFigure

        from .viz.mesh import camera_link_script

        if not isinstance(fig, BaseFigure):
            raise InputValueError(f"plotly() needs a plotly figure; got {type(fig).__name__}")
        self._n_plotly += 1
        div_id = f"mxkit-plotly-{self._n_plotly}"
        script = camera_link_script(fig)
        body = fig.to_html(include_plotlyjs=False, full_html=False, div_id=div_id,
                           config={"displaylogo": False, "responsive": True},
                           post_script=script or None)
        cap = f'<div class="caption">{html.escape(caption)}</div>' if caption else ""
        self._parts.append(f'<div class="mxkit-plotly">{body}</div>{cap}')
        return self

    # ------------------------------------------------------------------ output
    @property
    def n_interactive(self) -> int:
        """Number of interactive (plotly) figures added so far."""
        return self._n_plotly

    def to_html(self) -> str:
        """The whole page as a string (plotly.js inlined when the page has a plotly figure)."""
        from ._version import __version__

        js = ""
        if self._n_plotly:
            from plotly.offline import get_plotlyjs

            js = f"<script>{get_plotlyjs()}</script>"
        nav = "".join(f'<a href="#{a}">{html.escape(t)}</a>' for a, t in self._toc)
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        sub = f'<p class="lead">{html.escape(self.subtitle)}</p>' if self.subtitle else ""
        return (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style>{js}</head>"
            f"<body data-mxkit-report='{__version__}'><main><h1>{html.escape(self.title)}</h1>"
            f"{sub}<p class='meta'>mxkit {__version__} · {stamp}</p><nav>{nav}</nav>"
            + "\n".join(self._parts) + "</main></body></html>"
        )

    def save(self, path: str | os.PathLike) -> Path:
        """Write the page atomically (:func:`mxkit._io.atomic_write`); returns the path."""
        return atomic_write(path, self.to_html())


def markdown_table(df: Any, digits: int = 4) -> str:
    """A DataFrame as a GitHub Markdown table (floats with ``digits`` decimals)."""
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(f"{x:.{digits}f}" if isinstance(x, float) else str(x)
                                       for x in row) + " |")
    return "\n".join(lines) + "\n"
