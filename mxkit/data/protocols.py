"""Class protocols: which label each sample gets under a published evaluation setting, and which
samples are left out and why (``DATASETS.md`` §1.1, §1.4, §2.1, §5).

A :class:`Protocol` maps a clip attribute (``emotion`` or ``objective_class``) per dataset to
an ordered list of classes. :meth:`Protocol.apply` returns a labelled
:class:`~mxkit.data.ClipSet` whose :attr:`~mxkit.data.ClipSet.excluded` table lists every
sample dropped with its reason, and whose :attr:`~mxkit.data.ClipSet.protocol_card` (from
:meth:`Protocol.card`) is meant to travel with every result computed on it.

Registered protocols (:data:`PROTOCOLS`, :func:`get_protocol`):

=======================  ==========================================================================
name                     setting
=======================  ==========================================================================
``casme2-5class``        CASME II emotions: happiness, disgust, repression, surprise, others; fear
                         and sadness excluded (246 samples in the 2014 coding file)
``objective-5class``     MEGC2018 objective classes I-V of CASME II and SAMM (185 + 68 = 253);
                         VI and VII excluded
``objective-7class``     objective classes I-VII of CASME II and SAMM, nothing excluded
``megc2019-3class``      MEGC2019 composite: negative / positive / surprise over CASME II, SAMM
                         and SMIC-HS, with the composite's exclusions (442 samples)
``casme3-7class``        CAS(ME)³ Part A emotions: disgust, surprise, others, fear, anger, sad,
                         happy (860 MEs in the v2 label file)
``casme3-4class``        CAS(ME)³: negative (disgust, fear, anger, sad) / positive (happy) /
                         surprise / others
``casme3-3class``        CAS(ME)³: negative / positive / surprise; others excluded
=======================  ==========================================================================

Also registered (issue 17): ``samm-5class`` (SAMM anger, contempt, happiness, surprise, other;
disgust, fear and sadness excluded: 136 samples) and ``smic-3class`` (SMIC-HS negative, positive,
surprise: 164 samples).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .._checks import check_option
from ..errors import InputValueError
from .clip import Clip, ClipSet

__all__ = ["Protocol", "PROTOCOLS", "get_protocol", "CASME2_5CLASS", "OBJECTIVE_5CLASS",
           "OBJECTIVE_7CLASS", "MEGC2019_3CLASS", "CASME3_3CLASS", "CASME3_4CLASS", "CASME3_7CLASS"]


def _norm(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().casefold()


@dataclass(frozen=True)
class Protocol:
    """A class mapping with its exclusions.

    Parameters
    ----------
    name : str
        Identifier (``'casme2-5class'``).
    classes : tuple of str
        Ordered class names; a sample's class index is its position here.
    mapping : mapping of dataset -> {value: class}
        For each dataset the protocol covers, the value of ``source`` that maps to each class.
        Values compare after ``strip()`` and case-folding; ints (objective classes) as text.
    exclude : mapping of dataset -> {value: reason}, optional
        Values deliberately left out, with the reason recorded for each excluded sample.
    exclude_clips : tuple of (dataset, subject, clip_id, reason), optional
        Individual samples left out (e.g. MEGC2019's two CASME II rows).
    source : {'emotion', 'objective_class'}, optional
        Clip attribute the mapping reads.
    description, reference : str, optional
        Free text for the card.

    Raises
    ------
    InputValueError
        A mapping target that is not one of ``classes``, a value both mapped and excluded, or
        malformed fields.

    Examples
    --------
    >>> p = Protocol("toy", classes=("pos", "neg"),
    ...              mapping={"d": {"happy": "pos", "sad": "neg"}}, exclude={"d": {"meh": "too rare"}})
    >>> p.class_index("neg")
    1
    """

    name: str
    classes: tuple[str, ...]
    mapping: Mapping[str, Mapping[str, str]]
    exclude: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    exclude_clips: tuple[tuple[str, str, str, str], ...] = ()
    source: Literal["emotion", "objective_class"] = "emotion"
    description: str = ""
    reference: str = ""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.name, str) or not self.name:
            raise InputValueError(f"Protocol.name must be a non-empty str; got {self.name!r}")
        classes = tuple(self.classes)
        if not classes or not all(isinstance(c, str) and c for c in classes) or len(set(classes)) != len(classes):
            raise InputValueError(f"Protocol {self.name!r}: classes must be unique non-empty strings; got {classes!r}")
        set_(self, "classes", classes)
        check_option(self.source, ("emotion", "objective_class"), "source")
        if not isinstance(self.mapping, Mapping) or not self.mapping:
            raise InputValueError(f"Protocol {self.name!r}: mapping must be a non-empty {{dataset: {{value: class}}}} dict")
        mapping: dict[str, dict[str, str]] = {}
        for ds, m in self.mapping.items():
            if not isinstance(m, Mapping):
                raise InputValueError(f"Protocol {self.name!r}: mapping[{ds!r}] must be a dict {{value: class}}")
            mm = {}
            for value, cls in m.items():
                if cls not in classes:
                    raise InputValueError(
                        f"Protocol {self.name!r}: mapping[{ds!r}][{value!r}] = {cls!r} is not one of "
                        f"the classes {list(classes)}"
                    )
                mm[str(value)] = cls
            mapping[str(ds)] = mm
        set_(self, "mapping", mapping)
        exclude: dict[str, dict[str, str]] = {}
        for ds, m in dict(self.exclude).items():
            if ds not in mapping:
                raise InputValueError(f"Protocol {self.name!r}: exclude names dataset {ds!r}, which mapping does not cover")
            mm = {str(v): str(r) for v, r in dict(m).items()}
            both = {_norm(v) for v in mm} & {_norm(v) for v in mapping[ds]}
            if both:
                raise InputValueError(f"Protocol {self.name!r}: value(s) {sorted(both)} of {ds!r} are both mapped and excluded")
            exclude[str(ds)] = mm
        set_(self, "exclude", exclude)
        clips = []
        for item in self.exclude_clips:
            if len(item) != 4 or not all(isinstance(x, str) for x in item):
                raise InputValueError(
                    f"Protocol {self.name!r}: exclude_clips items must be (dataset, subject, clip_id, reason); got {item!r}"
                )
            clips.append(tuple(item))
        set_(self, "exclude_clips", tuple(clips))

    def __hash__(self) -> int:
        return hash((self.name, self.classes, self.source,
                     tuple(sorted((d, tuple(sorted(m.items()))) for d, m in self.mapping.items()))))

    # ------------------------------------------------------------------ queries
    @property
    def datasets(self) -> tuple[str, ...]:
        """Datasets the protocol covers."""
        return tuple(self.mapping)

    def class_index(self, label: str) -> int:
        """Position of ``label`` in :attr:`classes`."""
        if label not in self.classes:
            raise InputValueError(f"{label!r} is not a class of protocol {self.name!r}: {list(self.classes)}")
        return self.classes.index(label)

    def classify(self, clip: Clip) -> tuple[str | None, str | None]:
        """``(class, None)`` for a kept clip or ``(None, reason)`` for an excluded one.

        Raises
        ------
        InputValueError
            If the clip's dataset is not covered or its value is neither mapped nor excluded.
        """
        ds = clip.dataset
        if ds not in self.mapping:
            raise InputValueError(
                f"protocol {self.name!r} covers {list(self.mapping)}, not dataset {ds!r} (clip {clip.subject}/{clip.clip_id})"
            )
        for d, s, c, reason in self.exclude_clips:
            if (d, s, c) == clip.key:
                return None, reason
        value = getattr(clip, self.source)
        if value is None:
            return None, f"no {self.source.replace('_', ' ')}"
        v = _norm(value)
        for val, reason in self.exclude.get(ds, {}).items():
            if _norm(val) == v:
                return None, reason
        for val, cls in self.mapping[ds].items():
            if _norm(val) == v:
                return cls, None
        raise InputValueError(
            f"protocol {self.name!r}: unknown {self.source} {value!r} for dataset {ds!r} "
            f"(clip {clip.subject}/{clip.clip_id}); known values: {self.known_values(ds)}"
        )

    def known_values(self, dataset: str) -> list[str]:
        """Mapped and excluded values of a dataset."""
        return list(self.mapping.get(dataset, {})) + list(self.exclude.get(dataset, {}))

    # ------------------------------------------------------------------ application
    def apply(self, clipset: ClipSet) -> ClipSet:
        """Label the clips, drop the excluded ones and record why.

        Returns
        -------
        ClipSet
            Clips with ``label`` set (order kept); ``.excluded`` lists the dropped samples with
            their reason (plus any earlier exclusions); ``.protocol_card`` is ``self.card(result)``.

        Raises
        ------
        InputValueError
            Clips of a dataset the protocol does not cover; values that are neither mapped nor
            excluded (all listed at once, with counts); or every sample excluded.

        Examples
        --------
        >>> import numpy as np
        >>> f = np.zeros((2, 2, 2, 3), np.uint8)
        >>> cs = ClipSet([Clip(dataset="casme2", subject="sub01", clip_id=str(i), frames=f, fps=200,
        ...                    emotion=e) for i, e in enumerate(["happiness", "fear", "others"])])
        >>> out = CASME2_5CLASS.apply(cs)
        >>> [c.label for c in out], out.excluded["reason"].str[:13].tolist()
        (['happiness', 'others'], ['too few sampl'])
        """
        if not isinstance(clipset, ClipSet):
            raise InputValueError(f"Protocol.apply takes a ClipSet; got {type(clipset).__name__}")
        uncovered = Counter(c.dataset for c in clipset if c.dataset not in self.mapping)
        if uncovered:
            raise InputValueError(
                f"protocol {self.name!r} covers datasets {list(self.mapping)}, but the ClipSet has "
                f"clips of {dict(uncovered)}; filter them out first (clipset.filter(dataset=...))"
            )
        kept: list[Clip] = []
        excluded: list[dict] = []
        unknown: dict[tuple[str, str], list[Clip]] = {}
        for clip in clipset:
            try:
                cls, reason = self.classify(clip)
            except InputValueError:
                unknown.setdefault((clip.dataset, str(getattr(clip, self.source))), []).append(clip)
                continue
            if cls is None:
                excluded.append({"dataset": clip.dataset, "subject": clip.subject,
                                 "clip_id": clip.clip_id, "value": getattr(clip, self.source),
                                 "reason": reason})
            else:
                kept.append(clip.with_label(cls))
        if unknown:
            lines = [f"{v!r} in {ds} ({len(cl)} clip(s), e.g. {cl[0].subject}/{cl[0].clip_id}); "
                     f"known values: {self.known_values(ds)}" for (ds, v), cl in unknown.items()]
            raise InputValueError(
                f"protocol {self.name!r}: unknown {self.source.replace('_', ' ')} value(s):\n  "
                + "\n  ".join(lines) + "\nmap or exclude them in a custom Protocol"
            )
        if not kept:
            reasons = Counter(e["reason"] for e in excluded)
            raise InputValueError(
                f"protocol {self.name!r} maps every one of the {len(clipset)} samples away "
                f"(reasons: {dict(reasons)}); nothing would be left to evaluate"
            )
        prior = list(clipset._excluded)
        result = ClipSet(kept, problems=clipset._problems, excluded=prior + excluded,
                         name=clipset.name)
        return ClipSet(kept, problems=clipset._problems, excluded=prior + excluded,
                       protocol_card=self.card(result), name=clipset.name)

    def card(self, clipset: ClipSet | None = None) -> dict[str, Any]:
        """JSON-friendly description of the protocol, with counts when ``clipset`` is given.

        Keys: ``name, description, reference, source, classes, datasets, mapping, exclusions``
        (``values`` per dataset and ``clips``), and ``n_samples, class_counts,
        class_counts_by_dataset, n_excluded, excluded_by_reason`` (None without a clipset;
        computed from the clips' labels and the set's ``excluded`` table).
        """
        card: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "reference": self.reference,
            "source": self.source,
            "classes": list(self.classes),
            "datasets": list(self.mapping),
            "mapping": {d: dict(m) for d, m in self.mapping.items()},
            "exclusions": {
                "values": {d: dict(m) for d, m in self.exclude.items()},
                "clips": [{"dataset": d, "subject": s, "clip_id": c, "reason": r}
                          for d, s, c, r in self.exclude_clips],
            },
            "n_samples": None, "class_counts": None, "class_counts_by_dataset": None,
            "n_excluded": None, "excluded_by_reason": None,
        }
        if clipset is not None:
            labels = [c.label for c in clipset]
            card["n_samples"] = len(labels)
            card["class_counts"] = {k: labels.count(k) for k in self.classes}
            by_ds: dict[str, dict[str, int]] = {}
            for c in clipset:
                by_ds.setdefault(c.dataset, {k: 0 for k in self.classes})
                if c.label in self.classes:
                    by_ds[c.dataset][c.label] += 1
            card["class_counts_by_dataset"] = by_ds
            ex = clipset.excluded
            card["n_excluded"] = int(len(ex))
            card["excluded_by_reason"] = {str(k): int(v) for k, v in Counter(ex["reason"]).items()} if len(ex) else {}
        return card


# --------------------------------------------------------------------------- registered protocols
_FEW = "too few samples ({n} in the 2014 coding file); the usual CASME II 5-class setting drops fear and sadness (DATASETS.md §1.1)"

CASME2_5CLASS = Protocol(
    name="casme2-5class",
    classes=("happiness", "disgust", "repression", "surprise", "others"),
    mapping={"casme2": {c: c for c in ("happiness", "disgust", "repression", "surprise", "others")}},
    exclude={"casme2": {"fear": _FEW.format(n=2), "sadness": _FEW.format(n=7)}},
    description="CASME II 5-class emotion recognition: 246 samples of the 2014-05-08 coding file",
    reference="Yan et al., PLoS ONE 2014, doi:10.1371/journal.pone.0086041; DATASETS.md §1.1",
)

_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII")
_OBJ_EXCL = "MEGC2018 used objective classes I-V only (DATASETS.md §1.4, §5.4)"

OBJECTIVE_5CLASS = Protocol(
    name="objective-5class",
    classes=_ROMAN[:5],
    mapping={d: {str(i + 1): _ROMAN[i] for i in range(5)} for d in ("casme2", "samm")},
    exclude={d: {"6": _OBJ_EXCL, "7": _OBJ_EXCL} for d in ("casme2", "samm")},
    source="objective_class",
    description="MEGC2018 objective classes I-V (AU-based) of CASME II (185) and SAMM (68)",
    reference="Davison et al. 2018, arXiv:1708.07549; DATASETS.md §1.4, §2.1",
)

OBJECTIVE_7CLASS = Protocol(
    name="objective-7class",
    classes=_ROMAN,
    mapping={d: {str(i + 1): _ROMAN[i] for i in range(7)} for d in ("casme2", "samm")},
    source="objective_class",
    description="All seven objective classes of CASME II and SAMM",
    reference="Davison et al. 2018, arXiv:1708.07549; DATASETS.md §1.4, §2.1",
)

_NOT3 = "not one of the MEGC2019 3-class emotions (DATASETS.md §5.2)"

MEGC2019_3CLASS = Protocol(
    name="megc2019-3class",
    classes=("negative", "positive", "surprise"),
    mapping={
        "casme2": {"disgust": "negative", "repression": "negative", "happiness": "positive",
                   "surprise": "surprise"},
        "samm": {"Anger": "negative", "Contempt": "negative", "Disgust": "negative",
                 "Fear": "negative", "Sadness": "negative", "Happiness": "positive",
                 "Surprise": "surprise"},
        "smic": {"negative": "negative", "positive": "positive", "surprise": "surprise"},
    },
    exclude={
        "casme2": {"others": _NOT3, "fear": _NOT3, "sadness": _NOT3},
        "samm": {"Other": _NOT3, "Others": _NOT3},
    },
    exclude_clips=(
        ("casme2", "sub04", "EP12_01f", "absent from combined_3class_gt.csv (its apex is '/')"),
        ("casme2", "sub05", "EP09_05f", "absent from combined_3class_gt.csv (its apex equals its onset)"),
    ),
    description="MEGC2019 composite 3-class recognition over CASME II (145), SMIC-HS (164) and "
                "SAMM (133): 442 samples, 68 LOSO subjects keyed by (dataset, subject); labels "
                "0 = negative, 1 = positive, 2 = surprise",
    reference="See et al., FG 2019, doi:10.1109/FG.2019.8756611; DATASETS.md §5",
)

_CASME3_REF = ("Li et al., TPAMI 2022, doi:10.1109/TPAMI.2022.3174895 (3-, 4- and 7-class "
               "settings); DATASETS.md §4.3. Values compare case-folded, so the 3 'Others' rows "
               "count as others")
_CASME3_NEG = {"disgust": "negative", "fear": "negative", "anger": "negative", "sad": "negative"}

CASME3_7CLASS = Protocol(
    name="casme3-7class",
    classes=("disgust", "surprise", "others", "fear", "anger", "sad", "happy"),
    mapping={"casme3": {e: e for e in ("disgust", "surprise", "others", "fear", "anger", "sad", "happy")}},
    description="CAS(ME)³ Part A 7-class emotion recognition (every emotion label of the ME file "
                "is a class; 860 MEs in the v2 file: disgust 250, surprise 187, others 161, fear 86, "
                "anger 64, sad 57, happy 55)",
    reference=_CASME3_REF,
)

CASME3_4CLASS = Protocol(
    name="casme3-4class",
    classes=("negative", "positive", "surprise", "others"),
    mapping={"casme3": {**_CASME3_NEG, "happy": "positive", "surprise": "surprise",
                        "others": "others"}},
    description="CAS(ME)³ Part A 4-class: negative = disgust + fear + anger + sad, positive = "
                "happy, surprise, others",
    reference=_CASME3_REF,
)

CASME3_3CLASS = Protocol(
    name="casme3-3class",
    classes=("negative", "positive", "surprise"),
    mapping={"casme3": {**_CASME3_NEG, "happy": "positive", "surprise": "surprise"}},
    exclude={"casme3": {"others": "not one of the 3-class emotions (negative, positive, surprise)"}},
    description="CAS(ME)³ Part A 3-class: negative = disgust + fear + anger + sad, positive = "
                "happy, surprise; others excluded",
    reference=_CASME3_REF,
)

#: Registered protocols by name.
PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (CASME2_5CLASS, OBJECTIVE_5CLASS,
                                                      OBJECTIVE_7CLASS, MEGC2019_3CLASS,
                                                      CASME3_7CLASS, CASME3_4CLASS, CASME3_3CLASS)}


def get_protocol(name: str | Protocol) -> Protocol:
    """A registered protocol by name (a Protocol is returned as is).

    Raises
    ------
    OptionError
        If ``name`` is not registered (the message lists the registered names).
    """
    if isinstance(name, Protocol):
        return name
    return PROTOCOLS[check_option(name, PROTOCOLS, "protocol")]



# --------------------------------------------------------------------------- issue 17: SAMM and SMIC
_SAMM_FEW = ("fewer than 10 samples in the 159-row micro sheet ({n}); the usual SAMM 5-class setting keeps "
             "Anger, Contempt, Happiness, Surprise and Other (DATASETS.md §2.1)")

#: SAMM 5-class emotion recognition: anger (57), contempt (12), happiness (26), surprise (15),
#: other (26) -- 136 of the 159 micro rows; disgust (9), fear (8) and sadness (6) excluded.
SAMM_5CLASS = Protocol(
    name="samm-5class",
    classes=("anger", "contempt", "happiness", "surprise", "other"),
    mapping={"samm": {"Anger": "anger", "Contempt": "contempt", "Happiness": "happiness",
                      "Surprise": "surprise", "Other": "other", "Others": "other"}},
    exclude={"samm": {"Disgust": _SAMM_FEW.format(n=9), "Fear": _SAMM_FEW.format(n=8),
                      "Sadness": _SAMM_FEW.format(n=6)}},
    description="SAMM 5-class emotion recognition: 136 of the 159 micro-expressions (classes with at "
                "least 10 samples)",
    reference="Davison et al., IEEE TAFFC 2018, doi:10.1109/TAFFC.2016.2573832; DATASETS.md §2.1",
)

#: SMIC-HS 3-class recognition: negative (70), positive (51), surprise (43) -- all 164 clips.
SMIC_3CLASS = Protocol(
    name="smic-3class",
    classes=("negative", "positive", "surprise"),
    mapping={"smic": {"negative": "negative", "positive": "positive", "surprise": "surprise"}},
    description="SMIC-HS 3-class recognition (negative / positive / surprise): 164 clips of 16 subjects, "
                "nothing excluded",
    reference="Li et al., FG 2013, doi:10.1109/FG.2013.6553717; DATASETS.md §4.1",
)

for _p in (SAMM_5CLASS, SMIC_3CLASS):
    PROTOCOLS[_p.name] = _p
__all__ += ["SAMM_5CLASS", "SMIC_3CLASS"]
del _p
