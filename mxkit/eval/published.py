"""Published recognition figures, kept apart from mxkit's own results ('as reported' rows).

These numbers come from papers, as quoted in issue 17 of mxkit's tracker; mxkit did not compute
them, and they are **not comparable one to one** with mxkit's: the papers' face crops, flow,
sample lists and training schedules differ, several select the best epoch on the test fold,
and reproductions often fall short (HTNet was reproduced at UF1 about 0.65 by others). A table
that shows them beside mxkit's keeps them in separate rows with ``source = 'as reported'``
(:func:`reported_recognition`), never merged into mxkit's columns.

=========================  =========================================================================
source key                 reference
=========================  =========================================================================
``htnet2024``              Wang, Zhang, Luo & Sankaranarayana, "HTNet for micro-expression
                           recognition", Neurocomputing (2024), arXiv 2307.14637;
                           the MEGC2019 composite table (LOSO, UF1 / UAR) with its baselines
``sun2026``                Sun et al. 2026, arXiv 2603.07043 (the method mxkit implements):
                           recognition from its 3D reconstructions (protocol not public)
=========================  =========================================================================
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["REPORTED_RECOGNITION", "REPORTED_RECOGNITION_SOURCES", "reported_recognition"]

#: Value of the ``source`` column of published rows (mxkit's rows say ``'mxkit'``).
_AS_REPORTED = "as reported"

#: Full references of the source keys used in :data:`REPORTED_RECOGNITION`.
REPORTED_RECOGNITION_SOURCES: dict[str, str] = {
    "htnet2024": "Wang, Zhang, Luo & Sankaranarayana, HTNet for micro-expression recognition, "
                 "Neurocomputing (2024), arXiv 2307.14637 (MEGC2019 composite table)",
    "sun2026": "Sun et al. 2026, arXiv 2603.07043 (recognition from the 3D reconstructions; protocol not public)",
}


def _megc(method: str, uf1: float, uar: float, subset: str = "all") -> list[dict[str, Any]]:
    return [{"method": method, "protocol": "megc2019-3class", "subset": subset, "metric": m, "value": v,
             "source_key": "htnet2024"} for m, v in (("UF1", uf1), ("UAR", uar))]


#: The published figures: one dict per number (``method, protocol, subset, metric, value,
#: source_key``); ACC as a fraction.
REPORTED_RECOGNITION: tuple[dict[str, Any], ...] = tuple(
    _megc("LBP-TOP", 0.5882, 0.5785)
    + _megc("Bi-WOOF", 0.6296, 0.6227)
    + _megc("OFF-ApexNet", 0.7196, 0.7096)
    + _megc("STSTNet", 0.7353, 0.7605)
    + _megc("HTNet", 0.8603, 0.8475)
    + _megc("HTNet", 0.9532, 0.9516, "casme2")
    + _megc("HTNet", 0.8131, 0.8124, "samm")
    + _megc("HTNet", 0.8049, 0.7905, "smic")
    + [{"method": "Sun et al. (3D reconstruction)", "protocol": p, "subset": d, "metric": m, "value": v,
        "source_key": "sun2026"}
       for p, d, m, v in (("casme2 (protocol not public)", "casme2", "WF1", 0.5332),
                          ("casme (protocol not public)", "casme", "ACC", 0.447),
                          ("samm (protocol not public)", "samm", "ACC", 0.5686))]
)


def reported_recognition(*, protocol: str | None = None, methods: Any = None) -> pd.DataFrame:
    """The published figures as a tidy table, marked ``source = 'as reported'``.

    Parameters
    ----------
    protocol : str, optional
        Keep one protocol (e.g. ``'megc2019-3class'``).
    methods : sequence of str, optional
        Keep these methods.

    Returns
    -------
    pandas.DataFrame
        ``method, protocol, subset, metric, value, source, reference``.

    Examples
    --------
    >>> t = reported_recognition(protocol="megc2019-3class")
    >>> t.query("method == 'STSTNet' and metric == 'UF1'")["value"].item()
    0.7353
    """
    df = pd.DataFrame(list(REPORTED_RECOGNITION))
    if protocol is not None:
        df = df[df["protocol"] == protocol]
    if methods is not None:
        df = df[df["method"].isin(list(methods))]
    df = df.assign(source=_AS_REPORTED, reference=df["source_key"].map(REPORTED_RECOGNITION_SOURCES))
    return df.drop(columns="source_key").reset_index(drop=True)
