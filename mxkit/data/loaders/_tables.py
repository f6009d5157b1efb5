"""Reading label spreadsheets cell by cell (internal).

Cells are read with openpyxl (``.xlsx``, ``data_only=True`` so formulas give their cached value
or None) or xlrd (legacy ``.xls``), not through pandas: pandas 3 turns the text cell ``'01'``
into the int 1 and loses the row/column a bad value came from. Every value problem is raised
as :class:`~mxkit.errors.DatasetFormatError` naming file, sheet, Excel row and column letter.
"""

from __future__ import annotations

import csv
import math
import numbers
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..._io import display_path, name_problem
from ...errors import DatasetFormatError
from ..aus import MISSING_TOKENS

__all__ = ["Workbook", "Table", "CellError", "open_workbook", "col_letter", "norm_header",
           "MAX_WINDOW_FRAMES"]

#: Longest onset..offset window a label row may give (frames). The longest micro- and macro-
#: expression clips last a few seconds (< 2,000 frames at 200 fps); long recordings are
#: LongVideos. A longer window is a typo (OffsetFrame = 10^9) and the row is refused before
#: any per-frame work.
MAX_WINDOW_FRAMES = 100_000


class CellError(DatasetFormatError):
    """A cell that makes its row unusable (a non-numeric frame number, an empty name, ...).

    The message names file, sheet, row and column; :attr:`column` is the column letter and
    :attr:`reason` the message without the location. Loaders catch it per row, report the row
    as an ``invalid_row`` problem and go on with the next one.
    """

    def __init__(self, message: str, *, column: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.column = column
        self.reason = reason if reason is not None else message


def col_letter(index: int) -> str:
    """0-based column index -> Excel letters (0 -> 'A', 26 -> 'AA')."""
    s = ""
    n = index + 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def norm_header(value: Any) -> str:
    """Header cell -> comparison key: case-folded, without spaces, '_', '-', quotes or dots."""
    if value is None:
        return ""
    return re.sub(r"[\s_\-'\".:]+", "", str(value)).casefold()


class _XlsError:
    """An Excel error cell (#N/A, #REF!, ...) read by xlrd."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


@dataclass
class Workbook:
    """All sheets of one label file, as lists of row tuples (Excel row r is ``rows[r - 1]``)."""

    path: Path
    sheets: dict[str, list[tuple[Any, ...]]]
    kind: str  # 'xlsx' | 'xls' | 'csv'

    @property
    def sheet_names(self) -> list[str]:
        return list(self.sheets)

    def where(self, sheet: str | None) -> str:
        s = f"file '{display_path(self.path)}'"
        if self.kind != "csv" and sheet is not None:
            s += f", sheet {sheet!r}"
        return s

    def sheet(self, name: str | None = None, *, prefer: Sequence[str] = ()) -> str:
        """Resolve a sheet name: ``name`` if given, else the first of ``prefer`` present, else
        the first sheet. Raises naming the sheets found."""
        names = self.sheet_names
        if name is not None:
            if name not in self.sheets:
                raise DatasetFormatError(
                    f"{self.where(None)}: no sheet {name!r}; the sheets are {names}"
                )
            return name
        for p in prefer:
            if p in self.sheets:
                return p
        if not names:
            raise DatasetFormatError(f"{self.where(None)}: the workbook has no sheets")
        return names[0]


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def open_workbook(path: Path) -> Workbook:
    """Read every sheet of an .xlsx/.xlsm, .xls or .csv label file (read-only)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise DatasetFormatError(f"label file '{display_path(path)}' does not exist")
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            with warnings.catch_warnings():
                # openpyxl warns about unsupported extensions/styles in real files: not our concern
                warnings.simplefilter("ignore", UserWarning)
                wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
                sheets = {ws.title: [tuple(_clean(v) for v in row)
                                     for row in ws.iter_rows(values_only=True)]
                          for ws in wb.worksheets}
                wb.close()
        except Exception as exc:  # noqa: BLE001 - zipfile.BadZipFile, openpyxl InvalidFileException
            raise DatasetFormatError(f"file '{display_path(path)}' is not a readable .xlsx workbook: {exc}") from exc
        return Workbook(path, sheets, "xlsx")
    if suffix == ".xls":
        try:
            import xlrd
        except ImportError as exc:  # pragma: no cover - xlrd is a dependency
            from ...errors import BackendUnavailableError

            raise BackendUnavailableError(
                f"reading the legacy .xls file '{display_path(path)}' needs xlrd: pip install xlrd"
            ) from exc
        try:
            book = xlrd.open_workbook(str(path), on_demand=False)
        except Exception as exc:  # noqa: BLE001 - xlrd raises XLRDError, struct.error, ...
            raise DatasetFormatError(f"file '{display_path(path)}' is not a readable .xls workbook: {exc}") from exc
        sheets = {}
        for sh in book.sheets():
            rows = []
            for r in range(sh.nrows):
                row = []
                for c in range(sh.ncols):
                    cell = sh.cell(r, c)
                    ctype = cell.ctype
                    if ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                        row.append(None)
                    elif ctype == xlrd.XL_CELL_NUMBER:
                        v = float(cell.value)
                        row.append(int(v) if v.is_integer() else v)
                    elif ctype == xlrd.XL_CELL_BOOLEAN:
                        row.append(bool(cell.value))
                    elif ctype == xlrd.XL_CELL_ERROR:
                        row.append(_XlsError(xlrd.error_text_from_code.get(cell.value, "#ERR")))
                    else:  # text, date (kept as the serial number)
                        row.append(_clean(cell.value))
                rows.append(tuple(row))
            sheets[sh.name] = rows
        return Workbook(path, sheets, "xls")
    if suffix in (".csv", ".txt"):
        try:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                rows = [tuple(_clean(v) for v in row) for row in csv.reader(fh)]
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise DatasetFormatError(f"file '{display_path(path)}' is not a readable CSV file: {exc}") from exc
        return Workbook(path, {path.stem: rows}, "csv")
    raise DatasetFormatError(
        f"label file '{display_path(path)}' has an unsupported extension {suffix!r} (expected .xlsx, .xls or .csv)"
    )


@dataclass
class Column:
    name: str  # canonical name used by the loader
    index: int  # 0-based
    header: Any  # header text as written


@dataclass
class Table:
    """A sheet with a located header row; rows are ``(excel_row, values)``."""

    book: Workbook
    sheet: str
    header_row: int | None  # 1-based, None when the sheet has no header
    columns: dict[str, Column]
    rows: list[tuple[int, tuple[Any, ...]]] = field(default_factory=list)
    #: further columns whose header also matches a canonical name (two ``OnsetFrame``
    #: columns): a row where they disagree with the first one is invalid
    duplicates: dict[str, list[Column]] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.book.path

    def loc(self, row: int | None, col: str | int | None = None) -> str:
        """Human-readable location: file, sheet, row, column."""
        s = self.book.where(self.sheet)
        if row is not None:
            s += f", row {row}"
        if col is not None:
            if isinstance(col, str):
                c = self.columns[col]
                hdr = c.header if c.header is not None else c.name
                s += f", column {col_letter(c.index)} ('{display_path(hdr)}')"
            else:
                s += f", column {col_letter(col)}"
        return s

    def error(self, row: int | None, col: str | int | None, reason: str) -> CellError:
        """A :class:`CellError` located at ``row`` / ``col`` (a column name or 0-based index)."""
        letter, desc = None, None
        if isinstance(col, str) and col in self.columns:
            letter, desc = self.letter(col), self.header_text(col)
        elif isinstance(col, int):
            letter = desc = col_letter(col)
        return CellError(f"{self.loc(row, col)}: {reason}", column=letter,
                         reason=f"column {desc}: {reason}" if desc else reason)

    def source(self, row: int) -> dict[str, Any]:
        return {"file": str(self.path), "sheet": None if self.book.kind == "csv" else self.sheet,
                "row": row}

    def has(self, name: str) -> bool:
        return name in self.columns

    def get(self, values: tuple[Any, ...], name: str) -> Any:
        col = self.columns.get(name)
        if col is None or col.index >= len(values):
            return None
        value = values[col.index]
        for other in self.duplicates.get(name, ()):
            v = values[other.index] if other.index < len(values) else None
            if v is not None and v != value:
                raise CellError(
                    f"{self.loc(self._row_of(values), name)}: column {col_letter(other.index)} "
                    f"({str(other.header)!r}) is also {name!r} and holds {v!r} where column "
                    f"{col_letter(col.index)} holds {value!r}; remove or rename one of them",
                    column=col_letter(other.index),
                    reason=f"columns {col_letter(col.index)} and {col_letter(other.index)} are both "
                           f"{name!r} and disagree ({value!r} vs {v!r})")
        return value

    def _row_of(self, values: tuple[Any, ...]) -> int | None:
        return next((r for r, v in self.rows if v is values), None)

    # -------------------------------------------------------------- typed cell readers
    def _is_missing(self, v: Any, zero_missing: bool) -> bool:
        if v is None or (isinstance(v, str) and v.strip().casefold() in MISSING_TOKENS):
            return True
        return zero_missing and _as_int(v) == 0

    def frame(self, row: int, values: tuple[Any, ...], name: str, *, allow_missing: bool = False,
              zero_missing: bool = False) -> int | None:
        """A frame number: int, integral float or digit string (leading zeros allowed).

        A missing marker (and, with ``zero_missing``, the value 0, which CAS(ME)² and CAS(ME)³
        write for "not annotated") gives None when ``allow_missing``; anything else that is
        not a non-negative integer raises :class:`CellError`.
        """
        v = self.get(values, name)
        if self._is_missing(v, zero_missing):
            if allow_missing:
                return None
            raise self.error(row, name, "the frame number is missing"
                             + (f" ({v!r})" if v is not None else ""))
        n = _as_int(v)
        if n is None or n < 0:
            raise self.error(row, name, f"expected a frame number (a non-negative integer); got {v!r}")
        return n

    def frame_rounded(self, row: int, values: tuple[Any, ...], name: str, *,
                      allow_missing: bool = False, missing_values: Sequence[int] = (),
                      tolerance: float = 1e-6) -> tuple[int | None, float | None]:
        """A frame number that may be stored as a float (``566.4000000000001``).

        Returns ``(frame, raw)``: the nearest integer, and the raw value when it is more than
        ``tolerance`` away from that integer (else None). ``missing_values`` (e.g. ``(-1,)``
        for SAMM Long Videos' unannotated apex) count as missing.
        """
        v = self.get(values, name)
        if self._is_missing(v, False) or (_as_int(v) is not None and _as_int(v) in missing_values):
            if allow_missing:
                return None, None
            raise self.error(row, name, "the frame number is missing")
        f = _as_float(v)
        if f is None or not math.isfinite(f) or f < -0.5:
            raise self.error(row, name, f"expected a frame number; got {v!r}")
        n = int(round(f))
        if n in missing_values and allow_missing:
            return None, None
        if n < 0:
            raise self.error(row, name, f"expected a non-negative frame number; got {v!r}")
        return n, (f if abs(f - n) > tolerance else None)

    def letter(self, name: str) -> str:
        """Spreadsheet column letter of the column ``name``."""
        return col_letter(self.columns[name].index)

    def header_text(self, name: str) -> str:
        """``"D ('OnsetF')"``: letter and header of a column (its canonical name without one)."""
        c = self.columns[name]
        return col_letter(c.index) + f" ({str(c.header if c.header is not None else c.name)!r})"

    def window(self, row: int, values: tuple[Any, ...], *, dataset: str, subject: str,
               clip_id: str, problems: list[dict], zero_missing: bool = False,
               offset_fallback: Sequence[str] | None = None
               ) -> tuple[int, int | None, int, dict[str, Any]]:
        """The ``onset``, ``apex`` and ``offset`` frames of a row, and its source location.

        Raises :class:`CellError` naming both cells when the onset is after the offset; an
        apex cell holding a missing marker (``/``, ``-``, empty; 0 with ``zero_missing``)
        gives ``None`` and an ``apex_missing`` entry appended to ``problems``.

        With ``offset_fallback`` (column names, e.g. ``("apex",)``) a missing offset is
        tolerated: the clip then ends at the latest of those frames that is annotated, and an
        ``offset_missing`` problem is appended; without any, the row is invalid.
        """
        from ._common import apex_missing_problem

        onset = self.frame(row, values, "onset", zero_missing=False)
        apex = self.frame(row, values, "apex", allow_missing=True, zero_missing=zero_missing)
        offset = self.frame(row, values, "offset", allow_missing=offset_fallback is not None,
                            zero_missing=zero_missing)
        src = self.source(row)
        where = {"dataset": dataset, "subject": subject, "clip_id": clip_id, **src}
        if offset is None:
            ends = [(n, self.frame(row, values, n, allow_missing=True, zero_missing=zero_missing))
                    for n in (offset_fallback or ()) if n in self.columns]
            ends = [(n, f) for n, f in ends if f is not None]
            if not ends:
                raise self.error(row, "offset", "the offset is not annotated "
                                 f"({self.get(values, 'offset')!r}) and neither is the apex")
            col, end = max(ends, key=lambda e: e[1])
            problems.append({**_problem_base(where), "kind": "offset_missing",
                             "column": self.letter("offset"),
                             "detail": f"offset cell holds {self.get(values, 'offset')!r} (not "
                                       f"annotated): the clip ends at {col} frame {end}",
                             "action": "kept"})
            offset = end
        if offset - onset + 1 > MAX_WINDOW_FRAMES:
            raise self.error(row, "offset", f"the window {onset}..{offset} spans {offset - onset + 1} "
                             f"frames, more than any clip ({MAX_WINDOW_FRAMES}): a typo in the onset "
                             "or offset cell?")
        if onset > offset:
            raise CellError(
                f"{self.loc(row, 'onset')} and column {self.header_text('offset')}: onset frame "
                f"{onset} is after offset frame {offset}", column=self.letter("onset"),
                reason=f"column {self.header_text('onset')}: onset frame {onset} is after offset "
                       f"frame {offset} (column {self.header_text('offset')})")
        if apex is None:
            problems.append(apex_missing_problem(where, self.get(values, "apex"), self.letter("apex")))
        return onset, apex, offset, src

    def int_or_none(self, row: int, values: tuple[Any, ...], name: str, *, what: str) -> int | None:
        v = self.get(values, name)
        if v is None or (isinstance(v, str) and v.strip().casefold() in MISSING_TOKENS):
            return None
        n = _as_int(v)
        if n is None:
            raise self.error(row, name, f"expected {what}; got {v!r}")
        return n

    def text(self, row: int, values: tuple[Any, ...], name: str, *, required: bool = True) -> str | None:
        v = self.get(values, name)
        if v is None:
            if required:
                raise self.error(row, name, "the cell is empty")
            return None
        if isinstance(v, _XlsError):
            raise self.error(row, name, f"the cell holds the error {v.text}")
        return cell_text(v).strip()

    def name_cell(self, row: int, values: tuple[Any, ...], name: str) -> str:
        """A cell that names a folder or file (``Filename``, a subject or video name).

        Its text is joined to the dataset root, so it must be one plain path component:
        ``..``, an absolute or drive path, a separator or a control character would make
        the loader read outside the dataset. Such a cell raises :class:`CellError` (the row
        becomes an ``invalid_row`` problem naming file, sheet, row and column).
        """
        text = self.text(row, values, name)
        problem = name_problem(text)
        if problem is not None:
            raise self.error(row, name, f"{text!r} cannot name a folder inside the dataset: {problem}")
        return text

    def number_id(self, row: int, values: tuple[Any, ...], name: str, *,
                  prefixes: Sequence[str] = ()) -> int:
        """A subject number written as int, float, '01', or with a prefix ('sub01', 's15')."""
        v = self.get(values, name)
        n = _as_int(v)
        if n is None and isinstance(v, str):
            t = v.strip()
            for p in prefixes:
                if t.casefold().startswith(p.casefold()) and t[len(p):].isdigit():
                    n = int(t[len(p):])
                    break
        if n is None or n < 0:
            expect = "a subject number" + (f" (optionally prefixed {list(prefixes)})" if prefixes else "")
            raise self.error(row, name, f"expected {expect}; got {v!r}")
        return n


def _problem_base(where: dict[str, Any]) -> dict[str, Any]:
    return {k: where.get(k) for k in ("dataset", "subject", "clip_id", "file", "sheet", "row")}


def cell_text(v: Any) -> str:
    """Text of a cell: integral floats lose '.0' (xlrd), other values use str()."""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _as_float(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, numbers.Real):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return None
    return None


def _as_int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        f = float(v)
        return int(f) if math.isfinite(f) and f.is_integer() else None
    if isinstance(v, str):
        t = v.strip()
        if re.fullmatch(r"[+]?\d+", t):
            return int(t)
        if re.fullmatch(r"[+]?\d+\.0*", t):
            return int(float(t))
    return None


def locate_header(book: Workbook, sheet: str, *, required: dict[str, Sequence[str]],
                  optional: dict[str, Sequence[str]] | None = None, search_rows: int = 1,
                  expected: str | None = None) -> Table:
    """Find the header row among the first ``search_rows`` rows and map the columns.

    ``required`` / ``optional`` map a canonical column name to accepted header spellings
    (compared with :func:`norm_header`). Raises naming file, sheet, row and the missing
    column(s) when no row has every required column.
    """
    optional = optional or {}
    rows = book.sheets[sheet]
    if not any(any(v is not None for v in r) for r in rows):
        raise DatasetFormatError(f"{book.where(sheet)}: the sheet is empty")
    best: tuple[int, list[str], tuple[Any, ...]] | None = None
    for r in range(min(search_rows, len(rows))):
        values = rows[r]
        keys = [norm_header(v) for v in values]
        found: dict[str, Column] = {}
        extra: dict[str, list[Column]] = {}
        missing = []
        for canon, names in {**required, **optional}.items():
            wanted = {norm_header(n) for n in names}
            hits = [i for i, k in enumerate(keys) if k in wanted]
            if not hits:
                if canon in required:
                    missing.append(canon)
            else:
                found[canon] = Column(canon, hits[0], values[hits[0]])
                if len(hits) > 1:
                    extra[canon] = [Column(canon, i, values[i]) for i in hits[1:]]
        if not missing:
            data = [(i + 1, row) for i, row in enumerate(rows) if i > r]
            return Table(book, sheet, r + 1, found, data, duplicates=extra)
        if best is None or len(missing) < len(best[1]):
            best = (r + 1, missing, values)
    if best is None:  # pragma: no cover - search_rows < 1
        raise DatasetFormatError(f"{book.where(sheet)}: no header row searched")
    row, missing, values = best
    shown = [str(v) for v in values if v is not None]
    names = ", ".join(f"{required[m][0]!r}" for m in missing)
    where = f"row {row}" if search_rows == 1 else f"rows 1-{min(search_rows, len(rows))} (closest: row {row})"
    hint = f" ({expected})" if expected else ""
    raise DatasetFormatError(
        f"{book.where(sheet)}, {where}: wrong header{hint}: missing column(s) {names}; "
        f"the header cells are {shown}"
    )


def headerless_table(book: Workbook, sheet: str, names: Iterable[str]) -> Table:
    """A sheet without header: columns are named positionally."""
    cols = {n: Column(n, i, None) for i, n in enumerate(names)}
    rows = [(i + 1, row) for i, row in enumerate(book.sheets[sheet])]
    return Table(book, sheet, None, cols, rows)


def is_blank(values: tuple[Any, ...]) -> bool:
    return all(v is None for v in values)
