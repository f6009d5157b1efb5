"""The option-object base (mxkit/_options.py): validation, replace, JSON round trips."""

from __future__ import annotations

import json
import warnings
from dataclasses import FrozenInstanceError, dataclass, field

import pytest

from mxkit._options import Options, flat_options
from mxkit.errors import InputValueError, OptionError


@dataclass(frozen=True)
class Inner(Options):
    sigma: float = 1.0
    mode: str = "reflect"

    def _check(self) -> None:
        self._number("sigma", low=0)
        self._choice("mode", ("reflect", "constant"))


@dataclass(frozen=True)
class Outer(Options):
    steps: int | None = 3
    names: tuple[str, ...] = ("a", "b")
    on: bool = True
    inner: Inner = field(default_factory=Inner)

    def _check(self) -> None:
        self._integer("steps", low=1, optional=True)
        self._text("names", items=True)
        self._flag("on")


def test_defaults_validate_and_are_frozen():
    o = Outer()
    assert o.inner == Inner() and o.names == ("a", "b")
    with pytest.raises(FrozenInstanceError):
        o.steps = 4  # type: ignore[misc]
    assert hash(o) == hash(Outer())                       # usable as a key


@pytest.mark.parametrize("kwargs, error, words", [
    ({"sigma": -1.0}, InputValueError, "Inner.sigma must be a finite number >= 0; got -1.0"),
    ({"sigma": float("nan")}, InputValueError, "Inner.sigma"),
    ({"sigma": True}, InputValueError, "Inner.sigma"),
    ({"mode": "wrap"}, OptionError, "'Inner.mode'"),
])
def test_bad_values_name_the_field(kwargs, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        Inner(**kwargs)


def test_integer_text_and_flag_checks():
    with pytest.raises(InputValueError, match="Outer.steps must be an integer >= 1 or None; got 0"):
        Outer(steps=0)
    with pytest.raises(InputValueError, match="Outer.steps"):
        Outer(steps=2.0)  # type: ignore[arg-type]
    assert Outer(steps=None).steps is None
    with pytest.raises(InputValueError, match="Outer.names must be a tuple of strings"):
        Outer(names=("a", 1))  # type: ignore[arg-type]
    with pytest.raises(InputValueError, match="Outer.on must be True or False"):
        Outer(on=1)  # type: ignore[arg-type]
    assert Outer(names=["x"]).names == ("x",)             # a list is stored as a tuple


def test_replace_validates_and_rejects_unknown_names():
    o = Outer().replace(steps=5)
    assert o.steps == 5 and Outer().steps == 3
    with pytest.raises(InputValueError, match="Outer.steps"):
        Outer().replace(steps=-1)
    with pytest.raises(OptionError, match="unknown Outer field 'stepz'"):
        Outer().replace(stepz=5)


def test_json_round_trip_with_nested_options():
    o = Outer(steps=7, names=("x",), on=False, inner=Inner(sigma=2.5, mode="constant"))
    d = o.to_dict()
    assert d == {"steps": 7, "names": ["x"], "on": False,
                 "inner": {"sigma": 2.5, "mode": "constant"}}
    back = Outer.from_dict(json.loads(json.dumps(d)))
    assert back == o and isinstance(back.inner, Inner) and back.names == ("x",)


def test_from_dict_fills_defaults_and_names_unknown_keys():
    assert Outer.from_dict({"steps": 2}) == Outer(steps=2)
    with pytest.raises(OptionError, match=r"bundle\.pt: unknown Outer field 'bogus'"):
        Outer.from_dict({"steps": 2, "bogus": 1}, where="bundle.pt")
    with pytest.raises(OptionError, match="unknown Inner field 'sigmaa'"):
        Outer.from_dict({"inner": {"sigmaa": 1}})
    with pytest.raises(InputValueError, match="mapping"):
        Outer.from_dict([("steps", 2)])  # type: ignore[arg-type]


def test_to_dict_refuses_values_json_cannot_hold():
    @dataclass(frozen=True)
    class Loose(Options):
        x: object = None

    with pytest.raises(InputValueError, match="Loose.x holds set"):
        Loose(x={1}).to_dict()


def test_coerce():
    assert Inner.coerce(None) == Inner()
    i = Inner(sigma=3.0)
    assert Inner.coerce(i) is i
    assert Inner.coerce({"sigma": 3.0}) == i
    with pytest.raises(InputValueError, match="blur must be a Inner"):
        Inner.coerce(3.0, name="blur")


def test_flat_options_warns_and_merges():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        got = flat_options(Inner, Inner(mode="constant"), {"sigma": 4.0}, function="blur")
    assert got == Inner(sigma=4.0, mode="constant")
    assert w[0].category is DeprecationWarning and "options=Inner(...)" in str(w[0].message)
    assert flat_options(Inner, None, {}, function="blur") == Inner()
    with pytest.raises(TypeError, match="blur\\(\\) got unexpected keyword argument 'sigmaa'"):
        flat_options(Inner, None, {"sigmaa": 1.0}, function="blur")
