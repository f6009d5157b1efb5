"""Fixture builders for the mxkit.data tests: published layouts written from scratch.

Besides small helpers this module holds a minimal BIFF8 ``.xls`` writer (an OLE2 compound file
with one ``Workbook`` stream of NUMBER and LABEL cells), because no ``.xls`` writer is
installed and CASME's coding file is a legacy ``.xls`` read through xlrd. The tests at the end
check the helpers themselves.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import openpyxl

from mxkit._io import write_image_file

# ----------------------------------------------------------------------------- images


def tiny_frame(seed: int, size: tuple[int, int] = (12, 16)) -> np.ndarray:
    """A small deterministic RGB uint8 frame."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (*size, 3), dtype=np.uint8)


def write_frames(folder: Path, names: Iterable[str], *, seed: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        img = tiny_frame(seed + i)
        ok = write_image_file(folder / name, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        if not ok:  # pragma: no cover
            raise RuntimeError(f"cannot write {folder / name}")


def depth_map(frame: int, size: tuple[int, int] = (12, 16)) -> np.ndarray:
    """A known 16-bit depth map in mm: ``600 + frame + row + 2 col``, 0 (no reading) in the
    top-left pixel."""
    rr, cc = np.mgrid[0:size[0], 0:size[1]]
    d = (600 + frame + rr + 2 * cc).astype(np.uint16)
    d[0, 0] = 0
    return d


def write_depth(folder: Path, frames: Iterable[int]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k in frames:
        if not write_image_file(folder / f"{k}.png", depth_map(k)):  # pragma: no cover
            raise RuntimeError(f"cannot write {folder / f'{k}.png'}")


# ----------------------------------------------------------------------------- xlsx


def write_xlsx(path: Path, sheets: dict[str, Sequence[Sequence[Any]]], *,
               text_cells: Iterable[tuple[str, int, int]] = (),
               cached: dict[tuple[str, str], Any] | None = None,
               merged: dict[str, Sequence[str]] | None = None,
               blank_cells: Iterable[tuple[str, str]] = ()) -> Path:
    """Write rows per sheet (row 1 first; None = empty cell). ``text_cells`` are
    (sheet, row, col) 1-based cells given the text number format '@'.

    ``cached`` gives formula cells (``'=...'`` strings in ``sheets``) the cached value Excel
    stores beside the formula (openpyxl writes none: the zip is patched afterwards, a string
    value with ``t="str"`` as Excel does); ``merged`` lists merged ranges per sheet;
    ``blank_cells`` are ``(sheet, 'J1')`` cells written empty but formatted, so that the
    sheet's used range includes them (CAS(ME)²'s two empty trailing columns)."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r, row in enumerate(rows, start=1):
            for c, v in enumerate(row, start=1):
                if v is not None:
                    ws.cell(r, c, v)
    for sheet, r, c in text_cells:
        wb[sheet].cell(r, c).number_format = "@"
    for sheet, ref in blank_cells:
        wb[sheet][ref].number_format = "0.00"
    for sheet, ranges in (merged or {}).items():
        for rng in ranges:
            wb[sheet].merge_cells(rng)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    if cached:
        _patch_cached_values(path, list(sheets), cached)
    return path


def _patch_cached_values(path: Path, sheet_order: list[str], cached: dict[tuple[str, str], Any]) -> None:
    import re
    import zipfile
    from xml.sax.saxutils import escape

    with zipfile.ZipFile(path) as zf:
        members = [(i, zf.read(i.filename)) for i in zf.infolist()]
    out = []
    todo = dict(cached)
    for info, data in members:
        m = re.fullmatch(r"xl/worksheets/sheet(\d+)\.xml", info.filename)
        if m:
            sheet = sheet_order[int(m.group(1)) - 1]
            text = data.decode()
            for (sh, ref), value in list(todo.items()):
                if sh != sheet:
                    continue
                pat = re.compile(rf'<c r="{ref}"([^>]*)><f>(.*?)</f><v\s*/>(</v>)?</c>')
                kind = ' t="str"' if isinstance(value, str) else ""
                v = escape(value) if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
                text, n = pat.subn(lambda mm, r=ref, k=kind, x=v: f'<c r="{r}"{mm.group(1)}{k}><f>{mm.group(2)}</f>'
                                   f'<v>{x}</v></c>', text)
                if n != 1:
                    raise AssertionError(f"no formula cell {sheet}!{ref} to give a cached value")
                del todo[(sh, ref)]
            data = text.encode()
        out.append((info, data))
    if todo:
        raise AssertionError(f"cached values for unknown cells: {sorted(todo)}")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in out:
            zf.writestr(info, data)


# ----------------------------------------------------------------------------- xls (BIFF8)


def _record(rtype: int, data: bytes) -> bytes:
    return struct.pack("<HH", rtype, len(data)) + data


def _bof(dt: int) -> bytes:
    return _record(0x0809, struct.pack("<HHHHII", 0x0600, dt, 0x0DBB, 0x07CC, 0, 6))


def _sheet_stream(rows: Sequence[Sequence[Any]]) -> bytes:
    out = [_bof(0x0010)]
    ncols = max((len(r) for r in rows), default=0)
    out.append(_record(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, ncols, 0)))
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            if v is None:
                continue
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out.append(_record(0x0203, struct.pack("<HHHd", r, c, 0, float(v))))
            else:
                text = str(v).encode("utf-16-le")
                out.append(_record(0x0204, struct.pack("<HHHHB", r, c, 0, len(str(v)), 1) + text))
    out.append(_record(0x000A, b""))
    return b"".join(out)


def _workbook_stream(sheets: dict[str, Sequence[Sequence[Any]]]) -> bytes:
    names = list(sheets)
    bodies = [_sheet_stream(sheets[n]) for n in names]

    def globals_(offsets: Sequence[int]) -> bytes:
        parts = [_bof(0x0005), _record(0x0042, struct.pack("<H", 1200))]
        for name, off in zip(names, offsets, strict=True):
            enc = name.encode("utf-16-le")
            parts.append(_record(0x0085, struct.pack("<IBBBB", off, 0, 0, len(name), 1) + enc))
        parts.append(_record(0x000A, b""))
        return b"".join(parts)

    head = len(globals_([0] * len(names)))
    offsets, pos = [], head
    for b in bodies:
        offsets.append(pos)
        pos += len(b)
    return globals_(offsets) + b"".join(bodies)


def write_xls(path: Path, sheets: dict[str, Sequence[Sequence[Any]]]) -> Path:
    """Write a minimal BIFF8 ``.xls`` (numbers and text only) readable by xlrd."""
    stream = _workbook_stream(sheets)
    stream += b"\x00" * (max(4096, -(-len(stream) // 512) * 512) - len(stream))
    n_data = len(stream) // 512
    dir_sid = n_data
    fat_sid = n_data + 1
    n_sectors = n_data + 2
    if n_sectors > 128:  # pragma: no cover - fixtures are small
        raise ValueError("write_xls supports one FAT sector only")
    fat = [0xFFFFFFFF] * 128
    for i in range(n_data):
        fat[i] = i + 1 if i < n_data - 1 else 0xFFFFFFFE
    fat[dir_sid] = 0xFFFFFFFE
    fat[fat_sid] = 0xFFFFFFFD

    def entry(name: str, etype: int, child: int, start: int, size: int) -> bytes:
        enc = (name.encode("utf-16-le") + b"\x00\x00") if name else b""
        return (enc.ljust(64, b"\x00") + struct.pack("<HBB", len(enc), etype, 1)
                + struct.pack("<III", 0xFFFFFFFF, 0xFFFFFFFF, child) + b"\x00" * 16
                + struct.pack("<I", 0) + b"\x00" * 16 + struct.pack("<III", start, size, 0))

    directory = (entry("Root Entry", 5, 1, 0xFFFFFFFE, 0) + entry("Workbook", 2, 0xFFFFFFFF, 0, len(stream))
                 + entry("", 0, 0xFFFFFFFF, 0xFFFFFFFF, 0) * 2)
    difat = [fat_sid] + [0xFFFFFFFF] * 108
    header = (bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 16
              + struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6) + b"\x00" * 6
              + struct.pack("<IIIIIIIII", 0, 1, dir_sid, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
              + struct.pack("<109I", *difat))
    data = header + stream + directory + struct.pack("<128I", *fat)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# ----------------------------------------------------------------------------- dataset layouts

#: CASME II rows: (Subject cell, Filename, onset, apex cell, offset, AU cell, emotion).
#: The first eight are DATASETS.md §1.3's example rows; the rest add the §9 quirks.
CASME2_ROWS = [
    ("01", "EP02_01f", 46, 59, 86, 12, "happiness"),
    ("01", "EP03_02", 131, 139, 161, 18, "others"),
    ("01", "EP19_05f", 396, 416, 446, "4+L10", "disgust"),
    ("02", "EP01_11f", 46, 91, 96, 15, "repression"),
    ("02", "EP11_01", 16, 69, 106, "1+L2", "surprise"),
    ("04", "EP12_01f", 261, "/", 321, "4+7", "disgust"),
    ("09", "EP13_02", 71, 96, 131, 20, "fear"),
    (17, "EP15_01", 81, 104, 111, 1, "sadness"),            # Subject stored as a number
    ("05", "EP09_05f", 69, 69, 123, "R6+R12", "disgust"),   # apex == onset
    ("05", "EP03_02", 10, 20, 20, "?", "others"),           # same Filename as sub01; apex == offset
    ("12", "EP06_02_01", 5, 9, 14, "L2+26+38", "surprise"),  # irregular file name
]
#: Extra frames written before the onset and after the offset.
PAD = 2


def short_rows(rows=CASME2_ROWS, n=7):
    """The same rows with windows cut to at most ``n`` frames (fast fixtures to corrupt)."""
    out = []
    for subj, fn, on, ap, off, au, emo in rows:
        off2 = min(off, on + n - 1)
        ap2 = min(ap, off2) if isinstance(ap, int) else ap
        out.append((subj, fn, on, ap2, off2, au, emo))
    return out


def casme2_frame_folder(root: Path, kind: str, subject: str, clip: str) -> Path:
    top = "Cropped" if kind == "cropped" else "CASME2_RAW_selected"
    return root / top / f"sub{subject}" / clip


def make_casme2(root: Path, rows=CASME2_ROWS, *, kinds=("cropped", "raw"), objective=True,
                coding_name="CASME2-coding-20140508.xlsx") -> Path:
    """The CASME II layout of DATASETS.md §1.2-1.4 with its quirks (§9)."""
    sheet = [["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None,
              "Action Units", "Estimated Emotion"]]
    text = []
    for i, (subj, fn, on, ap, off, au, emo) in enumerate(rows):
        sheet.append([subj, fn, None, on, ap, off, None, au, emo])
        if isinstance(subj, str):
            text.append(("Sheet1", i + 2, 1))
    write_xlsx(root / coding_name, {"Sheet1": sheet, "Sheet2": [], "Sheet3": []}, text_cells=text)
    for j, (subj, fn, on, _ap, off, _au, _emo) in enumerate(rows):
        s = f"{int(subj):02d}"
        nums = range(max(on - PAD, 0), off + PAD + 1)
        if "cropped" in kinds:
            write_frames(casme2_frame_folder(root, "cropped", s, fn), [f"reg_img{n}.jpg" for n in nums], seed=j)
        if "raw" in kinds:
            write_frames(casme2_frame_folder(root, "raw", s, fn), [f"img{n}.jpg" for n in nums], seed=j)
    if "cropped" in kinds:
        (root / "Cropped" / "sub01" / "Desktop - Shortcut.lnk").write_bytes(b"stray")
        (casme2_frame_folder(root, "cropped", "01", "EP02_01f") / "Thumbs.db").write_bytes(b"x")
    if objective:
        classes = {"EP02_01f": 1, "EP03_02": 7, "EP19_05f": 4, "EP01_11f": 7, "EP11_01": 2,
                   "EP12_01f": 3, "EP13_02": 6, "EP15_01": 5, "EP09_05f": "I", "EP06_02_01": 2}
        obj = [["Subject", "Filename", "Objective Class"]]
        for subj, fn, *_ in rows:
            obj.append([f"{int(subj):02d}", fn, classes.get(fn, 7) if not (fn == "EP03_02" and int(subj) == 5) else 3])
        write_xlsx(root / "CASME2-ObjectiveClasses.xlsx",
                   {"Sheet1": obj, "Sheet2": [["scratch", 1], [None, 2]]},
                   text_cells=[("Sheet1", r, 1) for r in range(2, len(obj) + 1)])
    return root


#: SAMM rows: (Subject cell, Filename, Inducement, onset, apex, offset, AU cell, emotion, class, notes).
SAMM_ROWS = [
    ("006", "006_1_2", 1, 5562, 5588, 5632, "4+7", "Anger", 3, None),
    ("006", "006_1_3", 1, 3912, 3948, 3988, 4, "Anger", 3, "While blinking"),
    ("006", "006_3_4", 3, 639, 668, 702, "15A+17", "Sadness", 5, None),
    (7, "007_6_1", 6, 497, 511, 541, "(R6 or R12)+R15", "Happiness", 7, None),  # Subject as int
    ("010", "010_2_1", 2, 100, 110, 120, "7B+ ref(43)", "Other", 7, "Eye movement"),
    ("011", "011_4_2", 4, 200, 205, 215, "10A/B", "Surprise", 2, None),
    ("014", "014_3_3", 3, 50, 60, 70, "R14+17+soft focus", "Contempt", 7, None),
    ("016", "016_7_8", 7, 12300, 12324, 12340, "12+15 ", "Happiness", 1, None),  # 5-digit frames
    ("028", "028_4_1", 4, 1071, 1143, 1134, "L12 + 61", "Disgust", 4, None),  # apex > offset
    ("032", "032_3_1", 3, 4896, 1930, 4970, "A/L12", "Fear", 6, None),  # apex < onset
]
SAMM_NOTES = {
    1: {1: "SAMM Dataset - Master FACS Codes", 5: "(Note to the users: If you're using SAMM, please cite: Davison ...)"},
    3: {1: "9/9/17 - New updates with Emotional and Objective Classes. For details please refer to: ",
        9: "arXiv preprint arXiv:1708.07549."},
    4: {5: "(Note to the users: if you're using the emotional or objective classes, please cite: ...)"},
    6: {1: "Symbol Key:"}, 7: {1: '"/" = or'},
    8: {1: '"?" = some AU\'s continue for a while and have unclear offset'},
    10: {1: "AU Help:"},
    11: {1: '"L2 or R2" = Unilateral AU 2 on left side of face / right side of face'},
    12: {1: '"A2" = Asymmetric AU 2. Occurs on both sides of face but stronger on one side'},
}
SAMM_HEADER = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame",
               "Duration", "Micro", "Action Units", "Estimated Emotion", "Objective Classes", "Notes"]


def samm_sheet_rows(rows=SAMM_ROWS, *, header=SAMM_HEADER, header_row=14) -> list[list[Any]]:
    out: list[list[Any]] = [[] for _ in range(header_row - 1)]
    for r, cells in SAMM_NOTES.items():
        if r < header_row:
            line = [None] * 12
            for c, v in cells.items():
                line[c - 1] = v
            out[r - 1] = line
    out.append(list(header))
    for i, (subj, fn, ind, on, ap, off, au, emo, oc, notes) in enumerate(rows):
        r = header_row + 1 + i
        out.append([subj, fn, ind, on, ap, off, f"=SUM(F{r}-D{r})+1", "Micro - 1/2", au, emo, oc, notes])
    return out


def make_samm(root: Path, rows=SAMM_ROWS, *, sheet_rows=None, sheet_name="MICRO_ONLY") -> Path:
    """SAMM layout (DATASETS.md §2.2-2.3): note rows 1-13, header row 14, Duration formula."""
    data = sheet_rows if sheet_rows is not None else samm_sheet_rows(rows)
    text = [(sheet_name, 15 + i, 1) for i, r in enumerate(rows) if isinstance(r[0], str)]
    write_xlsx(root / "SAMM_Micro_FACS_Codes_v2.xlsx", {sheet_name: data}, text_cells=text)
    for j, (subj, fn, _ind, on, _ap, off, *_rest) in enumerate(rows):
        sss = f"{int(subj):03d}"
        write_frames(root / sss / fn, [f"{sss}_{n:05d}.jpg" for n in range(on, off + 1)], seed=j)
    return root


#: CASME rows: (Subject, Filename, OnsetF, ApexF1, ApexF2, OffsetF, Onset ms, Total ms, AU, Emotion, padded)
CASME_ROWS = [
    (1, "EP01_12", 73, 81, None, 91, 150.0, 316.666667, 4, "tense", False),
    (1, "EP01_5", 113, 121, 125, 133, 150.0, 350.0, 12, "happiness", False),
    (1, "EP03_1", 79, 91, "\\", 105, 216.666667, 450.0, "4+17", "repression", True),  # 3-digit padded
]


def make_casme(root: Path, rows=CASME_ROWS, *, xls=True) -> Path:
    """CASME layout (DATASETS.md §3): legacy .xls coding file, '{material}-{frame}.jpg' frames."""
    sheet = [["Subject", "Filename", None, "OnsetF", "ApexF1", "ApexF2", "OffsetF", None, "Onset", "Total", "AU", "Emotion"]]
    for subj, fn, on, a1, a2, off, oms, tms, au, emo, _ in rows:
        sheet.append([subj, fn, None, on, a1, a2, off, None, oms, tms, au, emo])
    if xls:
        write_xls(root / "CASME-coded-20190721.xls", {"Sheet1": sheet})
    else:
        write_xlsx(root / "casme.xlsx", {"Sheet1": sheet})
    for j, (subj, fn, on, _a1, _a2, off, *_r, padded) in enumerate(rows):
        nums = range(on - 1, off + 2)
        fmt = (lambda n: f"{n:03d}") if padded else str
        write_frames(root / "CASME_raw_selected" / f"sub{subj:02d}" / fn, [f"{fn}-{fmt(n)}.jpg" for n in nums], seed=j)
        write_frames(root / "Cropped" / f"sub{subj:02d}" / fn, [f"reg_{fn}-{fmt(n)}.jpg" for n in nums], seed=j)
    return root


#: SMIC-HS clips: (subject folder, emotion, clip, first frame, n frames)
SMIC_CLIPS = [
    ("s1", "negative", "s1_ne_01", 59740, 6),
    ("s1", "positive", "s1_po_02", 1000, 5),
    ("s2", "surprise", "s2_sur_01", 5, 4),
    ("s13", "positive", "s13_po_01", 90884, 7),
]


def make_smic(root: Path, clips=SMIC_CLIPS, *, variant="HS", container=None, cropped=False) -> Path:
    """SMIC layout (DATASETS.md §4.1): HS/s1/micro/negative/s1_ne_01/image059740.bmp."""
    base = root / container / variant if container else root / variant
    prefix = "reg_" if cropped else ""
    for j, (s, emo, clip, first, n) in enumerate(clips):
        write_frames(base / s / "micro" / emo / clip, [f"{prefix}image{k:06d}.bmp" for k in range(first, first + n)], seed=j)
    write_frames(base / "s1" / "non_micro" / "negative" / "s1_ne_01", ["image000001.bmp"])
    return root


def write_megc_gt(path: Path, rows: Sequence[Sequence[Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(",".join(str(v) for v in r) + "\n" for r in rows))
    return path


def invalid_rows(cs) -> list[tuple]:
    """(file name, sheet, row, column, subject, clip_id) of every ``invalid_row`` problem."""
    p = cs.problems
    p = p[p.kind == "invalid_row"]
    def none(v):
        return None if v is None or (isinstance(v, float) and v != v) else v

    return [(Path(f).name, none(sh), int(r), none(c), none(s), none(k)) for f, sh, r, c, s, k in
            zip(p.file, p.sheet, p.row, p.column, p.subject, p.clip_id, strict=True)]


def tree_snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """{relative path: (size, mtime_ns)} of every file and folder under root."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.stat()
        out[str(p.relative_to(root))] = (st.st_size if p.is_file() else -1, st.st_mtime_ns)
    return out


# ----------------------------------------------------------------------------- tests of the helpers


def test_write_xls_is_read_by_xlrd(tmp_path):
    import xlrd

    p = write_xls(tmp_path / "a.xls", {"Sheet1": [["Subject", None, "x"], [1, "EP01_12", 316.666667]],
                                       "Other": [["é"]]})
    book = xlrd.open_workbook(str(p))
    assert book.sheet_names() == ["Sheet1", "Other"]
    sh = book.sheet_by_name("Sheet1")
    assert sh.cell_value(0, 0) == "Subject" and sh.cell(0, 1).ctype == xlrd.XL_CELL_EMPTY
    assert sh.cell_value(1, 0) == 1.0 and sh.cell_value(1, 1) == "EP01_12"
    assert abs(sh.cell_value(1, 2) - 316.666667) < 1e-9
    assert book.sheet_by_name("Other").cell_value(0, 0) == "é"


def test_write_xlsx_cached_formula_values_merged_and_blank_cells(tmp_path):
    p = write_xlsx(tmp_path / "a.xlsx", {"S": [[1, "=A1+1", "=T!A1"], [None, None, "=A1/3"]], "T": [["x"]]},
                   cached={("S", "B1"): 2, ("S", "C1"): "x", ("S", "C2"): 1 / 3},
                   merged={"S": ["A4:C5"]}, blank_cells=[("S", "E1")])
    wb = openpyxl.load_workbook(p, data_only=True)
    ws = wb["S"]
    assert (ws["B1"].value, ws["C1"].value, ws["C2"].value) == (2, "x", 1 / 3)
    assert ws.max_column == 5 and ws["E1"].value is None and "A4:C5" in str(ws.merged_cells)
    assert openpyxl.load_workbook(p)["S"]["B1"].value == "=A1+1"  # the formula is kept too


def test_write_xlsx_text_cells(tmp_path):
    p = write_xlsx(tmp_path / "a.xlsx", {"S": [["Subject"], ["01"]]}, text_cells=[("S", 2, 1)])
    ws = openpyxl.load_workbook(p)["S"]
    assert ws["A2"].value == "01" and ws["A2"].number_format == "@"
