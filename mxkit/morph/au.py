"""FACS Action Units and their ARKit blendshape counterparts.

The table follows the common AU -> ARKit correspondence (documented in docs/face_models.md).
A bilateral AU (``AU12``) drives both sides' shapes; a lateral prefix (``L12`` / ``R12``)
drives only that side ("left" is always the *subject's* left). Intensities are in [0, 1];
FACS letter grades map to the midpoints in :data:`FACS_INTENSITY`.
"""

from __future__ import annotations

import re

__all__ = ["ARKIT_NAMES", "AU_TO_ARKIT", "FACS_INTENSITY", "GAZE_SHAPES", "parse_au_key"]

#: The 52 ARKit blendshape names in their canonical order.
ARKIT_NAMES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight",
    "eyeLookOutRight", "eyeLookUpRight", "eyeSquintRight", "eyeWideRight", "jawForward",
    "jawLeft", "jawRight", "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft",
    "mouthRight", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthPressLeft",
    "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
    "mouthUpperUpRight", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft",
    "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft",
    "noseSneerRight", "tongueOut",
)

#: Gaze shapes: excluded from expression fitting (gaze is not a facial action).
GAZE_SHAPES: tuple[str, ...] = tuple(n for n in ARKIT_NAMES if n.startswith("eyeLook"))

# AU -> (left-side shapes, right-side shapes, midline shapes). A shape belongs to one AU only,
# which makes AU -> ARKit -> AU an exact round trip.
AU_TO_ARKIT: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "AU1": ((), (), ("browInnerUp",)),
    "AU2": (("browOuterUpLeft",), ("browOuterUpRight",), ()),
    "AU4": (("browDownLeft",), ("browDownRight",), ()),
    "AU5": (("eyeWideLeft",), ("eyeWideRight",), ()),
    "AU6": (("cheekSquintLeft",), ("cheekSquintRight",), ()),
    "AU7": (("eyeSquintLeft",), ("eyeSquintRight",), ()),
    "AU9": (("noseSneerLeft",), ("noseSneerRight",), ()),
    "AU10": ((), (), ("mouthShrugUpper",)),
    "AU11": (("mouthUpperUpLeft",), ("mouthUpperUpRight",), ()),
    "AU12": (("mouthSmileLeft",), ("mouthSmileRight",), ()),
    "AU14": (("mouthDimpleLeft",), ("mouthDimpleRight",), ()),
    "AU15": (("mouthFrownLeft",), ("mouthFrownRight",), ()),
    "AU16": (("mouthLowerDownLeft",), ("mouthLowerDownRight",), ()),
    "AU17": ((), (), ("mouthShrugLower",)),
    "AU18": ((), (), ("mouthPucker",)),
    "AU20": (("mouthStretchLeft",), ("mouthStretchRight",), ()),
    "AU22": ((), (), ("mouthFunnel",)),
    "AU24": (("mouthPressLeft",), ("mouthPressRight",), ()),
    "AU27": ((), (), ("jawOpen",)),
    "AU28": ((), (), ("mouthRollLower", "mouthRollUpper")),
    "AU29": ((), (), ("jawForward",)),
    "AU30": (("jawLeft",), ("jawRight",), ()),
    "AU33": ((), (), ("cheekPuff",)),
    "AU45": (("eyeBlinkLeft",), ("eyeBlinkRight",), ()),
}

#: FACS intensity grades A (trace) .. E (maximum) as fractions of full intensity.
FACS_INTENSITY: dict[str, float] = {"A": 0.2, "B": 0.4, "C": 0.6, "D": 0.8, "E": 1.0}

_KEY = re.compile(r"^(?:(?P<side>[LR])|AU)?(?P<num>\d+)$", re.IGNORECASE)


def parse_au_key(key: str) -> tuple[str, str | None]:
    """Split an AU key into its canonical name and side.

    >>> parse_au_key("AU12"), parse_au_key("L12"), parse_au_key("r4"), parse_au_key("6")
    (('AU12', None), ('AU12', 'L'), ('AU4', 'R'), ('AU6', None))
    """
    from ..errors import InputValueError

    m = _KEY.match(str(key).strip())
    if not m:
        raise InputValueError(f"cannot read AU key {key!r}: expected e.g. 'AU12', 'L12' or 'R12'")
    side = m.group("side")
    return f"AU{int(m.group('num'))}", (side.upper() if side else None)
