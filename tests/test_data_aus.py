"""AU strings: every notation listed in DATASETS.md, round-trip formatting, property tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mxkit.data import AU, format_au, format_aus, parse_au_string, parse_aus
from mxkit.data.aus import _canonical_groups, is_missing_value
from mxkit.errors import InputValueError, OptionError


def keys(value):
    return [format_au(a) + (f"#{a.alternative}" if a.alternative else "") for a in parse_aus(value, errors="ignore")]


@pytest.mark.parametrize("value, expected", [
    # CASME II (§1.3): int for a single AU, '+'-joined strings, L/R prefixes
    (12, ["12"]), ("1+2+4", ["1", "2", "4"]), ("4+7+43", ["4", "7", "43"]),
    ("4+L10", ["4", "L10"]), ("1+L2", ["1", "L2"]), ("L2+26+38", ["L2", "26", "38"]),
    ("R6+R12", ["R6", "R12"]), ("4+5+L10", ["4", "5", "L10"]), ("L14+L15", ["L14", "L15"]),
    ("R12", ["R12"]), ("L10", ["L10"]), ("AU4", ["4"]), ("AU 12", ["12"]),
    # xlrd floats, numpy ints
    (12.0, ["12"]), (np.int64(18), ["18"]),
    # SAMM (§2.3): intensities, A/T/B prefixes, ref(), alternatives, spaces
    ("7B", ["7B"]), ("12A", ["12A"]), ("43E", ["43E"]), ("15A+17", ["15A", "17"]),
    ("A12", ["A12"]), ("A9E", ["A9E"]), ("T18", ["T18"]), ("T23", ["T23"]), ("B18", ["B18"]),
    ("ref(7B)", ["ref(7B)"]), ("7B+ ref(43)", ["7B", "ref(43)"]),
    ("(R6 or R12)+R15", ["R6#1", "R12#1", "R15"]), ("L12 or L14", ["L12#1", "L14#1"]),
    ("R14A or 17A or 24A", ["R14A#1", "17A#1", "24A#1"]),
    ("10A/B", ["10A#1", "10B#1"]), ("4A/B", ["4A#1", "4B#1"]), ("A/L12", ["A12#1", "L12#1"]),
    ("12+15 ", ["12", "15"]), ("L12 + 61", ["L12", "61"]),
    # MMEW (§4.4): side suffixes
    ("12L", ["L12"]), ("4R+7", ["R4", "7"]), ("4(R)", ["R4"]),
    # 4DME (§4.5): static (k) and 'AUR2'
    ("AU4(k)+L7", ["4(k)", "L7"]), ("AUR2+12(k)+45", ["R2", "12(k)", "45"]),
    # CAS(ME)3 part C (§4.3): commas, including the full-width one
    ("1,2，4", ["1", "2", "4"]),
    # lower case and mixed alternatives
    ("l10+r12", ["L10", "R12"]), ("25/26", ["25#1", "26#1"]), ("(1+2)+4", ["1", "2", "4"]),
    ("(R6 or R12)+(L1 or L2)", ["R6#1", "R12#1", "L1#2", "L2#2"]),
])
def test_notations(value, expected):
    assert keys(value) == expected


@pytest.mark.parametrize("value", [None, float("nan"), "", "  ", "?", "-", "/", "\\", "nan", " ? "])
def test_missing_markers_give_no_aus(value):
    r = parse_au_string(value)
    assert r.missing and r.aus == () and r.unparsed == ()
    assert is_missing_value(value)


def test_free_text_is_kept_aside():
    r = parse_au_string("R14+17+soft focus")
    assert [a.key for a in r.aus] == ["R14", "AU17"]
    assert r.unparsed == ("soft focus",) and not r.missing and r.raw == "R14+17+soft focus"
    with pytest.raises(InputValueError, match="soft focus"):
        parse_aus("R14+17+soft focus")
    assert [a.number for a in parse_aus("R14+17+soft focus", errors="ignore")] == [14, 17]


def test_fields_and_raw_tokens():
    a, b = parse_aus("R14A+ref(7B)")
    assert (a.number, a.side, a.intensity, a.modifier, a.reference) == (14, "R", "A", None, False)
    assert a.raw == "R14A" and b.raw == "ref(7B)" and b.reference and b.intensity == "B"
    assert a.name == "AU14" and a.key == "R14"
    (c,) = parse_aus("A9E")
    assert c.modifier == "A" and c.intensity == "E" and c.key == "AU9"
    # raw is not part of equality
    assert AU(12, raw="12 ") == AU(12)


@pytest.mark.parametrize("value", [True, [1, 2], {"a": 1}])
def test_bad_cell_types_raise(value):
    with pytest.raises(InputValueError):
        parse_aus(value)


def test_non_integral_float_is_not_an_au():
    r = parse_au_string(12.5)
    assert r.aus == () and r.unparsed == ("12.5",)


def test_bad_option_and_bad_au_fields():
    with pytest.raises(OptionError, match="errors"):
        parse_aus("12", errors="skip")
    for kwargs in ({"number": -1}, {"number": 1.5}, {"number": 1, "side": "X"},
                   {"number": 1, "intensity": "F"}, {"number": 1, "modifier": "Q"},
                   {"number": 1, "alternative": 0}):
        with pytest.raises(InputValueError):
            AU(**kwargs)


def test_conflicting_sides_are_not_parsed():
    assert parse_au_string("L12R").unparsed == ("L12R",)
    assert parse_au_string("12AB").unparsed == ("12AB",)


def test_morph_key_compatibility():
    from mxkit.morph.au import parse_au_key

    for au in parse_aus("L12+R6+4+A9E"):
        name, side = parse_au_key(au.key)
        assert name == au.name and side == au.side


# ----------------------------------------------------------------------------- properties

_au = st.builds(
    AU,
    number=st.integers(0, 99),
    side=st.sampled_from([None, "L", "R"]),
    intensity=st.sampled_from([None, "A", "B", "C", "D", "E"]),
    modifier=st.sampled_from([None, "A", "T", "B"]),
    reference=st.booleans(),
    static=st.booleans(),
)


@st.composite
def au_lists(draw):
    """Canonical AU tuples: singles and alternative groups (2-3 members) numbered in order."""
    items = draw(st.lists(st.one_of(_au.map(lambda a: [a]), st.lists(_au, min_size=2, max_size=3)),
                          max_size=5))
    out, g = [], 0
    for item in items:
        if len(item) == 1:
            out.append(item[0])
        else:
            g += 1
            out += [AU(a.number, side=a.side, intensity=a.intensity, modifier=a.modifier,
                       reference=a.reference, static=a.static, alternative=g) for a in item]
    return tuple(out)


@settings(max_examples=120, deadline=None)
@given(au_lists())
def test_format_then_parse_round_trips(aus):
    assert _canonical_groups(aus)
    text = format_aus(aus)
    r = parse_au_string(text)
    assert r.unparsed == ()
    assert r.aus == aus
    assert format_aus(r.aus) == text


@settings(max_examples=80, deadline=None)
@given(au_lists(), st.sampled_from(["+", " + ", "+ ", " +"]), st.booleans(), st.booleans())
def test_spacing_case_and_prefix_variants_parse_the_same(aus, sep, lower, au_prefix):
    plain = [a for a in aus if a.alternative is None and not a.reference and not a.static]
    if not plain:
        return
    parts = []
    for a in plain:
        t = f"{a.modifier or ''}{a.side or ''}{a.number}{a.intensity or ''}"
        if au_prefix and not a.modifier and not a.side:
            t = "AU" + t
        parts.append(t.lower() if lower and not a.modifier else t)
    text = sep.join(parts) + ("  " if lower else "")
    assert parse_aus(text) == tuple(plain)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 999))
def test_excel_number_cells(n):
    expected = (AU(n),)
    assert parse_aus(n) == parse_aus(float(n)) == parse_aus(str(n)) == parse_aus(f"AU{n}") == expected


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_never_crashes_on_arbitrary_text(text):
    r = parse_au_string(text)
    assert isinstance(r.aus, tuple) and isinstance(r.unparsed, tuple)
    assert all(isinstance(a, AU) for a in r.aus)
    # whatever was recognised formats and re-parses to itself
    if _canonical_groups(r.aus):
        assert parse_aus(format_aus(r.aus)) == r.aus


def test_nan_float_is_missing():
    assert parse_aus(math.nan) == ()
