"""Parsing and formatting of FACS Action-Unit strings as the ME datasets write them.

The coding files use several notations (``DATASETS.md`` §1.3, §2.3, §4.3-§4.5):

==========================  ===============================================================
notation                    meaning (parsed into :class:`AU` fields)
==========================  ===============================================================
``12``, ``AU12``, ``AU 12``  AU 12, bilateral
``L10``, ``R12``, ``12L``   unilateral, subject's left / right (``side``); also ``4(R)``
``12A`` … ``43E``           FACS intensity letter A (trace) … E (maximum) (``intensity``)
``A12``, ``A9E``            asymmetric (SAMM key "A2") (``modifier='A'``)
``T18``, ``B18``            other SAMM prefixes, meaning unconfirmed (``modifier``)
``ref(7B)``                 SAMM "reference" AU (``reference=True``)
``AU4(k)``                  4DME static AU (``static=True``)
``L12 or L14``, ``25/26``   alternatives; AUs of one group share ``alternative``
``(R6 or R12)+R15``         parenthesised alternative group inside a ``+`` list
``10A/B``, ``A/L12``        shorthand alternatives: ``10A or 10B``, ``A12 or L12``
``1+2``, ``1, 2``, ``1，2``  lists (``+``; ``,`` and full-width ``，`` as in CAS(ME)³)
``?``, ``-``, ``/``, empty  missing / unknown: no AUs
==========================  ===============================================================

Excel cells hold an ``int`` when a single plain AU was typed (``12``) and a ``str`` otherwise,
and xlrd returns floats (``12.0``): every form is accepted. Tokens that are not AUs (SAMM's
``soft focus``) are kept as *unparsed* tokens by :func:`parse_au_string`; :func:`parse_aus`
raises on them unless ``errors='ignore'``.

Examples
--------
>>> parse_aus("4+L10")
(AU(number=4), AU(number=10, side='L'))
>>> format_aus(parse_aus("(R6 or R12)+R15"))
'(R6 or R12)+R15'
>>> parse_aus(12) == parse_aus("AU12") == parse_aus(12.0)
True
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .._checks import check_option
from ..errors import InputValueError

__all__ = [
    "AU",
    "AUParse",
    "parse_aus",
    "parse_au_string",
    "format_au",
    "format_aus",
    "is_missing_value",
    "INTENSITY_LETTERS",
    "MISSING_TOKENS",
]

#: FACS intensity grades, trace (A) to maximum (E).
INTENSITY_LETTERS: tuple[str, ...] = ("A", "B", "C", "D", "E")
#: Cell contents that mean "no value" in the coding files (compared after ``strip()`` and
#: case-folding; ``NULL`` is CAS(ME)²'s).
MISSING_TOKENS: frozenset[str] = frozenset({"", "?", "-", "/", "\\", "nan", "none", "null", "n/a", "na"})

_MODIFIERS = ("A", "T", "B")


@dataclass(frozen=True)
class AU:
    """One Action Unit as coded in a dataset.

    Attributes
    ----------
    number : int
        FACS AU number (``12`` for lip-corner puller).
    side : {'L', 'R'} or None
        Unilateral AU on the subject's left / right side; ``None`` for bilateral.
    intensity : {'A', 'B', 'C', 'D', 'E'} or None
        FACS intensity letter, ``None`` when not coded.
    modifier : {'A', 'T', 'B'} or None
        SAMM prefix: ``A`` = asymmetric (both sides, stronger on one); ``T`` and ``B`` are
        kept verbatim (their meaning is not documented in the released key).
    reference : bool
        Written as ``ref(...)`` (SAMM).
    static : bool
        Written with a ``(k)`` suffix (4DME static AU).
    alternative : int or None
        AUs that are alternatives of each other ("or", "/") share the same group number
        (1, 2, ... in order of appearance within one string); ``None`` otherwise.
    raw : str
        The token exactly as written in the source (not used in comparisons).
    """

    number: int
    side: Literal["L", "R"] | None = None
    intensity: Literal["A", "B", "C", "D", "E"] | None = None
    modifier: Literal["A", "T", "B"] | None = None
    reference: bool = False
    static: bool = False
    alternative: int | None = None
    raw: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.number, bool) or not isinstance(self.number, numbers.Integral):
            raise InputValueError(f"AU number must be an int; got {self.number!r}")
        if self.number < 0:
            raise InputValueError(f"AU number must be >= 0; got {self.number}")
        object.__setattr__(self, "number", int(self.number))
        if self.side not in (None, "L", "R"):
            raise InputValueError(f"AU side must be 'L', 'R' or None; got {self.side!r}")
        if self.intensity not in (None, *INTENSITY_LETTERS):
            raise InputValueError(
                f"AU intensity must be one of {INTENSITY_LETTERS} or None; got {self.intensity!r}"
            )
        if self.modifier not in (None, *_MODIFIERS):
            raise InputValueError(
                f"AU modifier must be one of {_MODIFIERS} or None; got {self.modifier!r}"
            )
        if self.alternative is not None and (
            isinstance(self.alternative, bool) or not isinstance(self.alternative, numbers.Integral)
            or self.alternative < 1
        ):
            raise InputValueError(f"AU alternative group must be an int >= 1; got {self.alternative!r}")
        if not self.raw:
            object.__setattr__(self, "raw", format_au(self))

    def __repr__(self) -> str:  # compact: only non-default fields
        parts = [f"number={self.number}"]
        for name in ("side", "intensity", "modifier"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value!r}")
        for name in ("reference", "static"):
            if getattr(self, name):
                parts.append(f"{name}=True")
        if self.alternative is not None:
            parts.append(f"alternative={self.alternative}")
        return "AU(" + ", ".join(parts) + ")"

    @property
    def name(self) -> str:
        """``'AU12'``: the AU without side, intensity or modifiers."""
        return f"AU{self.number}"

    @property
    def key(self) -> str:
        """Key understood by :func:`mxkit.morph.au.parse_au_key`: ``'AU12'``, ``'L12'`` or ``'R12'``."""
        return f"{self.side}{self.number}" if self.side else f"AU{self.number}"


@dataclass(frozen=True)
class AUParse:
    """Result of :func:`parse_au_string`.

    Attributes
    ----------
    aus : tuple of AU
        The AUs recognised, in order.
    unparsed : tuple of str
        Tokens that are not AUs (free text such as ``'soft focus'``), as written.
    missing : bool
        The whole value was empty, NaN or a missing marker (``?``, ``-``, ``/``, ...).
    raw : str
        The value as text (``str()`` of the cell; ``''`` for None/NaN).
    """

    aus: tuple[AU, ...]
    unparsed: tuple[str, ...]
    missing: bool
    raw: str


def is_missing_value(value: object) -> bool:
    """Return True for None, NaN, and strings in :data:`MISSING_TOKENS` (after strip)."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str):
        return value.strip().casefold() in MISSING_TOKENS
    return False


def _cell_text(value: object) -> str:
    """Text of an AU cell: ints stay ints, integral floats lose their ``.0``."""
    if isinstance(value, bool):
        raise InputValueError(f"an AU value cannot be a boolean; got {value!r}")
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        f = float(value)
        if math.isfinite(f) and f.is_integer():
            return str(int(f))
        return repr(f)
    if isinstance(value, str):
        return value
    raise InputValueError(
        f"an AU value must be a str, an int or a float; got {type(value).__name__} {value!r}"
    )


_TERM_HEAD = re.compile(r"^(?:AU)?(?P<pre>[LRATB]{0,2})(?P<num>\d{1,3})(?P<rest>.*)$")
_REF = re.compile(r"^ref\s*\((?P<inner>.*)\)$", re.IGNORECASE | re.DOTALL)
_OR = re.compile(r"\s+or\s+", re.IGNORECASE)


def _split_top(text: str, seps: str) -> list[str]:
    """Split on any char of ``seps`` at parenthesis depth 0."""
    out, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(depth - 1, 0)
        if depth == 0 and ch in seps:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def _split_or(text: str) -> list[str]:
    """Split alternatives on ' or ' and '/' at parenthesis depth 0."""
    pieces: list[str] = []
    depth = start = i = 0
    while i < len(text):
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(depth - 1, 0)
        elif depth == 0:
            if ch == "/":
                pieces.append(text[start:i])
                start = i + 1
            else:
                m = _OR.match(text, i)
                if m:
                    pieces.append(text[start:i])
                    start = i = m.end()
                    continue
        i += 1
    pieces.append(text[start:])
    return pieces


def _wrapped(text: str) -> bool:
    """True when ``text`` is one parenthesised group '( ... )'."""
    if not (text.startswith("(") and text.endswith(")")):
        return False
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and i < len(text) - 1:
            return False
    return True


def _parse_term(token: str) -> AU | None:
    """Parse one AU term (no '+', no alternatives); None if it is not an AU."""
    t = re.sub(r"\s+", "", token).upper()
    m = _TERM_HEAD.match(t)
    if not m:
        return None
    side = modifier = intensity = None
    static = False
    for ch in m.group("pre"):
        if ch in "LR":
            if side is not None:
                return None
            side = ch
        else:
            if modifier is not None:
                return None
            modifier = ch
    rest = m.group("rest")
    while rest:
        if rest.startswith("(K)"):
            if static:
                return None
            static, rest = True, rest[3:]
        elif rest[:3] in ("(L)", "(R)"):
            if side is not None:
                return None
            side, rest = rest[1], rest[3:]
        elif rest[0] in "LR":
            if side is not None:
                return None
            side, rest = rest[0], rest[1:]
        elif rest[0] in INTENSITY_LETTERS:
            if intensity is not None:
                return None
            intensity, rest = rest[0], rest[1:]
        else:
            return None
    return AU(int(m.group("num")), side=side, intensity=intensity, modifier=modifier,
              static=static, raw=token.strip())


def _parse_piece(piece: str) -> tuple[list[AU], list[str]]:
    """Parse a single (non-alternative) piece, which may be ``ref(...)`` or '( ... )'."""
    p = piece.strip()
    if not p:
        return [], []
    m = _REF.match(p)
    if m:
        aus, bad = _parse_expr(m.group("inner"), next_group=[0])
        aus = [AU(a.number, side=a.side, intensity=a.intensity, modifier=a.modifier,
                  reference=True, static=a.static, alternative=None, raw=p) for a in aus]
        return aus, bad
    if _wrapped(p):
        return _parse_expr(p[1:-1], next_group=[0])
    au = _parse_term(p)
    return ([au], []) if au is not None else ([], [p])


_LETTERS_ONLY = re.compile(r"^[A-Za-z]{1,2}$")


def _parse_alternatives(part: str, next_group: list[int]) -> tuple[list[AU], list[str]]:
    pieces = [p.strip() for p in _split_or(part)]
    pieces = [p for p in pieces if p]
    if len(pieces) <= 1:
        return _parse_piece(pieces[0]) if pieces else ([], [])
    members: list[AU] = []
    bad: list[str] = []
    parsed: list[AU | None] = []
    for p in pieces:
        aus, b = ([], [p]) if _LETTERS_ONLY.match(p) else _parse_piece(p)
        parsed.append(aus[0] if len(aus) == 1 and not b else None)
        if len(aus) > 1 or (aus and b):  # a compound inside an alternative: not representable
            bad.append(p)
            parsed[-1] = None
    # shorthand: '10A/B' (intensity alternatives) and 'A/L12' (prefix alternatives)
    for i, p in enumerate(pieces):
        if parsed[i] is not None or not _LETTERS_ONLY.match(p):
            continue
        letters = p.upper()
        prev = next((parsed[j] for j in range(i - 1, -1, -1) if parsed[j] is not None), None)
        nxt = next((parsed[j] for j in range(i + 1, len(pieces)) if parsed[j] is not None), None)
        base = prev if prev is not None else nxt
        au: AU | None = None
        if base is not None and prev is not None and len(letters) == 1 and letters in INTENSITY_LETTERS:
            au = AU(base.number, side=base.side, intensity=letters, modifier=base.modifier,
                    reference=base.reference, static=base.static, raw=p)
        elif base is not None and all(c in "LRATB" for c in letters):
            side = "".join(c for c in letters if c in "LR") or None
            mod = "".join(c for c in letters if c in "ATB") or None
            if (side is None or len(side) == 1) and (mod is None or len(mod) == 1):
                au = AU(base.number, side=side, intensity=base.intensity, modifier=mod,
                        reference=base.reference, static=base.static, raw=p)
        parsed[i] = au
    for p, au in zip(pieces, parsed, strict=True):
        if au is None:
            if p not in bad:
                bad.append(p)
        else:
            members.append(au)
    if len(members) >= 2:
        next_group[0] += 1
        g = next_group[0]
        members = [AU(a.number, side=a.side, intensity=a.intensity, modifier=a.modifier,
                      reference=a.reference, static=a.static, alternative=g, raw=a.raw)
                   for a in members]
    return members, bad


def _parse_expr(text: str, next_group: list[int]) -> tuple[list[AU], list[str]]:
    aus: list[AU] = []
    bad: list[str] = []
    for part in _split_top(text, "+,"):
        part = part.strip()
        if not part:
            continue
        if _wrapped(part) and not _REF.match(part):
            inner = part[1:-1]
            if len(_split_top(inner, "+,")) > 1:  # '(1+2)': a plain sub-list
                a, b = _parse_expr(inner, next_group)
                aus += a
                bad += b
                continue
            part = inner
        a, b = _parse_alternatives(part, next_group)
        aus += a
        bad += b
    return aus, bad


def parse_au_string(value: object) -> AUParse:
    """Parse an AU cell leniently, keeping non-AU tokens aside.

    Parameters
    ----------
    value : str, int, float or None
        The cell as read from a spreadsheet (mixed types are normal: ``12``, ``12.0``,
        ``'4+L10'``, ``'?'``, NaN).

    Returns
    -------
    AUParse
        ``aus`` (tuple of :class:`AU`), ``unparsed`` tokens, ``missing`` flag and ``raw`` text.

    Raises
    ------
    InputValueError
        If ``value`` is not a str, int, float or None (e.g. a bool or a date).

    Examples
    --------
    >>> r = parse_au_string("R14+17+soft focus")
    >>> [a.key for a in r.aus], r.unparsed
    (['R14', 'AU17'], ('soft focus',))
    >>> parse_au_string("?").missing
    True
    """
    if is_missing_value(value):
        raw = "" if value is None or isinstance(value, float) else str(value)
        return AUParse((), (), True, raw)
    text = _cell_text(value)
    norm = text.replace("，", ",").replace("＋", "+").replace("（", "(").replace("）", ")")
    aus, bad = _parse_expr(norm, next_group=[0])
    return AUParse(tuple(aus), tuple(bad), False, text)


def parse_aus(value: object, *, errors: Literal["raise", "ignore"] = "raise") -> tuple[AU, ...]:
    """Parse an AU cell into a tuple of :class:`AU`.

    Parameters
    ----------
    value : str, int, float or None
        The cell value; missing markers (None, NaN, ``''``, ``'?'``, ``'-'``, ``'/'``) give ``()``.
    errors : {'raise', 'ignore'}, optional
        What to do with tokens that are not AUs: raise :class:`~mxkit.errors.InputValueError`
        (default) or drop them (use :func:`parse_au_string` to keep them).

    Returns
    -------
    tuple of AU

    Examples
    --------
    >>> [a.key for a in parse_aus("L2+26+38")]
    ['L2', 'AU26', 'AU38']
    >>> parse_aus("15A+17")[0].intensity
    'A'
    """
    check_option(errors, ("raise", "ignore"), "errors")
    result = parse_au_string(value)
    if result.unparsed and errors == "raise":
        raise InputValueError(
            f"cannot read AU string {result.raw!r}: token(s) {list(result.unparsed)} are not AUs "
            "(expected e.g. '12', 'L10', '12A', 'AU4', 'ref(7B)', 'L12 or L14'); "
            "pass errors='ignore' to drop them"
        )
    return result.aus


def format_au(au: AU) -> str:
    """Canonical text of one AU, e.g. ``'L12'``, ``'15A'``, ``'A9E'``, ``'ref(7B)'``, ``'4(k)'``.

    The alternative group is not part of a single AU's text; see :func:`format_aus`.
    """
    text = f"{au.modifier or ''}{au.side or ''}{au.number}{au.intensity or ''}"
    if au.static:
        text += "(k)"
    return f"ref({text})" if au.reference else text


def format_aus(aus: Iterable[AU]) -> str:
    """Canonical ``+``-joined text of AUs; alternatives become ``(X or Y)``.

    ``parse_aus(format_aus(x)) == x`` for any tuple whose alternative groups are contiguous,
    have at least two members and are numbered 1, 2, ... in order of appearance.

    Examples
    --------
    >>> format_aus(parse_aus("L12 + 61"))
    'L12+61'
    >>> format_aus(parse_aus("10A/B"))
    '(10A or 10B)'
    """
    items = list(aus)
    parts: list[str] = []
    i = 0
    while i < len(items):
        au = items[i]
        if au.alternative is None:
            parts.append(format_au(au))
            i += 1
            continue
        j = i
        group: list[AU] = []
        while j < len(items) and items[j].alternative == au.alternative:
            group.append(items[j])
            j += 1
        parts.append("(" + " or ".join(format_au(a) for a in group) + ")" if len(group) > 1
                     else format_au(group[0]))
        i = j
    return "+".join(parts)


def _canonical_groups(aus: Sequence[AU]) -> bool:
    """Internal: whether alternative ids are contiguous, >=2 members, numbered in order."""
    expected = 1
    i = 0
    while i < len(aus):
        g = aus[i].alternative
        if g is None:
            i += 1
            continue
        if g != expected:
            return False
        j = i
        while j < len(aus) and aus[j].alternative == g:
            j += 1
        if j - i < 2:
            return False
        expected += 1
        i = j
    return True
