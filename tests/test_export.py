"""Exports of a reconstruction: the NPZ, the per-frame table, the Live Link Face CSV, the animated
glTF and the dataset-level table, each checked against a reconstruction with known values."""

from __future__ import annotations

import json
import math
import struct
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from mxkit.errors import (
    BackendUnavailableError,
    DatasetFormatError,
    InputValueError,
    OptionError,
    ShapeError,
)
from mxkit.fit import CoarseFit
from mxkit.geometry import axis_angle_to_matrix, euler_to_matrix, matrix_to_axis_angle
from mxkit.meshio import save_glb
from mxkit.morph import (
    ARKIT_NAMES,
    LIVE_LINK_ANGLES,
    LIVE_LINK_NAMES,
    read_live_link_csv,
    write_live_link_csv,
)
from mxkit.workflows import (
    Reconstruction,
    export_frame_tables,
    export_reconstruction,
    frame_table,
    reconstruction_arrays,
    write_arkit_csv,
    write_glb,
)

T, FPS = 5, 30.0
ONSET, APEX, OFFSET = 1, 3, 4
PROFILE = np.array([0.0, 0.0, 0.5, 1.0, 0.25])
SMILE = 0.4                                   # mouthSmileLeft/Right at the apex
BROW = 0.2                                    # browInnerUp at the apex
OFFSET_MM = 0.3                               # mouth vertices move +z at the apex (deformer)
HEAD_DEG = (-5.0, 10.0, 3.0)                  # pitch, yaw, roll of every frame


def _rec(model, *, fps: float = FPS) -> Reconstruction:
    g = torch.Generator().manual_seed(0)
    identity = 0.5 * torch.randn(model.n_identity, generator=g)
    expr = torch.zeros(T, model.n_expressions)
    p = torch.as_tensor(PROFILE, dtype=torch.float32)
    for name in ("mouthSmileLeft", "mouthSmileRight"):
        expr[:, model.expression_index(name)[0]] = SMILE * p
    expr[:, model.expression_index("browInnerUp")[0]] = BROW * p
    delta = torch.zeros_like(expr)
    delta[:, model.expression_index("jawOpen")[0]] = 0.05 * p
    full = expr + delta
    coarse_v = model(identity[None].expand(T, -1), full)
    mouth = torch.as_tensor(model.region_mask("mouth"), dtype=torch.float32)[None, :, None]
    offsets = p[:, None, None] * mouth * torch.tensor([0.0, 0.0, OFFSET_MM / 1e3])
    R = euler_to_matrix(torch.tensor(np.radians(HEAD_DEG), dtype=torch.float64))
    rot = matrix_to_axis_angle(R).float()[None].expand(T, 3).contiguous()
    scale = torch.full((T,), 2000.0)
    t2d = torch.tensor([[96.0, 100.0]]).expand(T, 2).contiguous()
    lm3 = model.landmarks(coarse_v)
    lm = (lm3 @ axis_angle_to_matrix(rot).transpose(-1, -2))[..., :2] * torch.tensor([1.0, -1.0]) \
        * scale[:, None, None] + t2d[:, None]
    L = lm.shape[1]
    fit = CoarseFit(identity=identity, expression=expr, rotation=rot, scale=scale, t2d=t2d,
                    landmarks=lm, target=lm + 0.5, weights=torch.ones(T, L),
                    error_px=torch.full((T,), 0.7071), error_nme=torch.full((T,), 0.01),
                    loss_history=torch.zeros(2), expression_names=model.expression_names,
                    model=model)
    return Reconstruction(
        clip_key=("synthme", "sub01", "EP01_01"), model_name=model.name, variant="full",
        onset=ONSET, apex=APEX, offset=OFFSET, coarse=fit, expression=full, delta_expression=delta,
        vertex_offsets=offsets, dynamic_code=torch.arange(4.0), vertices_coarse=coarse_v,
        vertices=coarse_v + offsets, fps=fps, frame_numbers=(46, 47, 48, 49, 50))


@pytest.fixture(scope="module")
def rec(mh_head):
    return _rec(mh_head)


# ----------------------------------------------------------------------------- NPZ
def test_npz_loads_without_pickle_and_re_renders(rec, mh_head, tmp_path):
    import io

    buf = io.BytesIO()
    np.savez(buf, **reconstruction_arrays(rec, mh_head))
    path = tmp_path / "r.npz"
    path.write_bytes(buf.getvalue())
    z = np.load(path, allow_pickle=False)
    arrays = {k: z[k] for k in z.files}                 # every entry readable without pickle
    assert all(a.dtype != object for a in arrays.values())
    assert str(z["format"]) == "mxkit-reconstruction" and int(z["format_version"]) == 2
    assert str(z["model_name"]) == "mh-head" and str(z["model_version"]) == "1"
    assert z["clip_key"].tolist() == ["synthme", "sub01", "EP01_01"] and str(z["camera"]) == "weak_perspective"
    assert z["frames"].tolist() == list(range(T)) and z["frame_numbers"].tolist() == [46, 47, 48, 49, 50]
    assert (int(z["onset"]), int(z["apex"]), int(z["offset"]), float(z["fps"])) == (ONSET, APEX, OFFSET, FPS)
    assert tuple(z["expression_names"]) == mh_head.expression_names
    assert z["identity"].shape == (T, mh_head.n_identity) and z["dynamic_code"].tolist() == [0, 1, 2, 3]
    # re-render from the file alone: model(identity, expression) + offsets == vertices
    v = mh_head(torch.as_tensor(z["identity"]), torch.as_tensor(z["expression"])).numpy() + z["vertex_offsets"]
    np.testing.assert_allclose(v, z["vertices"], atol=1e-6)
    # ... and the camera places the model's landmarks where the fit put them
    lm3 = mh_head.landmarks(torch.as_tensor(z["vertices_coarse"]))
    R = axis_angle_to_matrix(torch.as_tensor(z["rotation"]))
    uv = (lm3 @ R.transpose(-1, -2))[..., :2].numpy() * [1.0, -1.0] * z["camera_scale"][:, None, None] \
        + z["camera_t2d"][:, None]
    np.testing.assert_allclose(uv, rec.coarse.landmarks.numpy(), atol=1e-3)


# ----------------------------------------------------------------------------- per-frame table
def test_frame_table_known_values(rec, mh_head):
    df = frame_table(rec, mh_head)
    assert len(df) == T and df["frame_number"].tolist() == [46, 47, 48, 49, 50]
    assert df["phase"].tolist() == ["neutral", "onset-apex", "onset-apex", "onset-apex", "apex-offset"]
    np.testing.assert_allclose(df["time_s"], np.arange(T) / FPS)
    for col, deg in zip(("head_pitch_deg", "head_yaw_deg", "head_roll_deg"), HEAD_DEG, strict=True):
        np.testing.assert_allclose(df[col], deg, atol=1e-4)
    np.testing.assert_allclose(df["scale_px_per_m"], 2000.0)
    assert [c for c in df.columns if c in ARKIT_NAMES] == list(ARKIT_NAMES)     # the 52, in order
    np.testing.assert_allclose(df["mouthSmileLeft"], SMILE * PROFILE, atol=1e-7)
    np.testing.assert_allclose(df["jawOpen"], 0.05 * PROFILE, atol=1e-7)   # the encoder's residual
    np.testing.assert_allclose(df["AU12"], SMILE * PROFILE, atol=1e-6)      # mean of the two sides
    np.testing.assert_allclose(df["AU1"], BROW * PROFILE, atol=1e-6)
    np.testing.assert_allclose(df["AU27"], 0.05 * PROFILE, atol=1e-6)
    assert set(mh_head.au_names) <= set(df.columns)
    np.testing.assert_allclose(df.loc[ONSET, [c for c in df.columns if c.startswith("motion_")]], 0.0)
    # motion per region, recomputed from the vertices by hand
    v = rec.vertices.double().numpy()
    d = np.linalg.norm(v - v[ONSET], axis=-1) * 1e3
    for region in ("mouth", "forehead", "cheek_left"):
        m = mh_head.region_mask(region)
        np.testing.assert_allclose(df[f"motion_{region}_mm"], np.sqrt((d[:, m] ** 2).mean(1)), rtol=1e-6)
    assert df.loc[APEX, "motion_mouth_mm"] > df.loc[APEX, "motion_forehead_mm"]
    np.testing.assert_allclose(df["offset_rms_mm"].max(),
                               OFFSET_MM * np.sqrt(mh_head.region_mask("mouth").mean()), rtol=1e-5)
    np.testing.assert_allclose(df["coarse_error_px"], 0.7071, rtol=1e-6)


def test_frame_table_rejects_another_model(rec, toy_model):
    with pytest.raises(InputValueError, match="vertices"):
        frame_table(rec, toy_model)


# ----------------------------------------------------------------------------- Live Link CSV
def test_arkit_csv_layout_and_round_trip(rec, mh_head, tmp_path):
    path = write_arkit_csv(rec, tmp_path / "take.csv", model=mh_head)
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    assert header[:2] == ["Timecode", "BlendShapeCount"] and len(header) == 2 + 52 + 9
    assert header[2:54] == list(LIVE_LINK_NAMES) and header[54:] == list(LIVE_LINK_ANGLES)
    assert header[17:19] == ["JawRight", "JawLeft"] and header[23:25] == ["MouthRight", "MouthLeft"]
    row = lines[APEX + 1].split(",")
    assert row[0] == "00:00:00:03.000" and row[1] == "61"
    assert float(row[header.index("MouthSmileLeft")]) == pytest.approx(SMILE, abs=1e-7)
    assert float(row[header.index("HeadYaw")]) == pytest.approx(math.radians(HEAD_DEG[1]), abs=1e-6)
    take = read_live_link_csv(path, fps=FPS)
    w = np.clip(rec.expression.double().numpy(), 0, 1)
    np.testing.assert_allclose(take.weights, w[:, mh_head.expression_index(list(ARKIT_NAMES))], atol=1e-8)
    np.testing.assert_allclose(take.head, np.radians([[HEAD_DEG[1], HEAD_DEG[0], HEAD_DEG[2]]] * T), atol=1e-6)
    np.testing.assert_allclose(take.left_eye, 0.0)
    np.testing.assert_allclose(take.time_s, np.arange(T) / FPS, atol=1e-9)


def test_live_link_reader_takes_the_apps_files_and_names_bad_cells(tmp_path):
    w = np.zeros((2, 52))
    w[1, ARKIT_NAMES.index("jawLeft")] = 0.75
    w[0, ARKIT_NAMES.index("mouthRight")] = 0.5
    path = write_live_link_csv(tmp_path / "a.csv", w, fps=60, start_s=3725.5)
    text = path.read_text()
    assert text.splitlines()[1].startswith("01:02:05:30.000,61,")
    got = read_live_link_csv(path, fps=60)
    np.testing.assert_allclose(got.weights, w)
    np.testing.assert_allclose(got.time_s, [0.0, 1 / 60], atol=1e-6)
    # as the app writes it: shapes only, another case, columns in another order
    names = list(reversed(LIVE_LINK_NAMES))
    other = tmp_path / "b.csv"
    other.write_text("timecode,blendshapecount," + ",".join(n.lower() for n in names) + "\n"
                     + "00:00:00:01.500,52," + ",".join("0.25" if n == "JawLeft" else "0" for n in names) + "\n")
    got = read_live_link_csv(other, fps=30)
    assert got.weights[0, ARKIT_NAMES.index("jawLeft")] == 0.25 and got.weights.sum() == 0.25
    assert np.isnan(got.head).all()
    bad = tmp_path / "c.csv"
    lines = text.splitlines()
    cells = lines[2].split(",")
    cells[5] = "oops"
    bad.write_text("\n".join([lines[0], lines[1], ",".join(cells)]) + "\n")
    with pytest.raises(DatasetFormatError, match=r"c\.csv, row 3, column 'EyeLookOutLeft'.*'oops'"):
        read_live_link_csv(bad, fps=60)
    short = tmp_path / "d.csv"
    short.write_text("Timecode,BlendShapeCount,EyeBlinkLeft\n00:00:00:00.000,1,0\n")
    with pytest.raises(DatasetFormatError, match="EyeLookDownLeft"):
        read_live_link_csv(short, fps=60)
    with pytest.raises(ShapeError):
        write_live_link_csv(tmp_path / "e.csv", np.zeros((2, 51)), fps=60)
    with pytest.raises(InputValueError, match="fps"):
        write_live_link_csv(tmp_path / "e.csv", w, fps=float("nan"))


def test_arkit_csv_needs_arkit_weights(rec, toy_model, tmp_path):
    toy = type("M", (), {"expression_kind": "pca", "expression_names": ("expr000",), "name": "flame"})()
    with pytest.raises(InputValueError, match="ARKit"):
        write_arkit_csv(rec, tmp_path / "x.csv", model=toy)


# ----------------------------------------------------------------------------- glTF
def _accessor(g, blob, i):
    a = g.accessors[i]
    bv = g.bufferViews[a.bufferView]
    width = {"SCALAR": 1, "VEC3": 3}[a.type]
    dtype = np.uint32 if a.componentType == 5125 else np.float32
    return np.frombuffer(blob, dtype=dtype, count=a.count * width,
                         offset=bv.byteOffset + (a.byteOffset or 0)).reshape(a.count, width)


def test_glb_re_imports_with_every_frame(rec, mh_head, tmp_path):
    pygltflib = pytest.importorskip("pygltflib")
    path = write_glb(rec, tmp_path / "r.glb", model=mh_head)
    raw = path.read_bytes()
    magic, version, length = struct.unpack("<III", raw[:12])
    assert (magic, version, length) == (0x46546C67, 2, len(raw))
    g = pygltflib.GLTF2().load(str(path))
    blob = g.binary_blob()
    assert len(g.meshes) == 1 and len(g.animations) == 1
    prim = g.meshes[0].primitives[0]
    assert len(prim.targets) == T
    assert g.meshes[0].extras["targetNames"] == [f"frame_{n:04d}" for n in (46, 47, 48, 49, 50)]
    base = _accessor(g, blob, prim.attributes.POSITION)
    verts = rec.vertices.numpy()
    for t, target in enumerate(prim.targets):
        np.testing.assert_allclose(base + _accessor(g, blob, target["POSITION"]), verts[t], atol=1e-6)
    faces = _accessor(g, blob, prim.indices).reshape(-1, 3)
    np.testing.assert_array_equal(faces, mh_head.faces.numpy())
    sampler = g.animations[0].samplers[0]
    times = _accessor(g, blob, sampler.input).ravel()
    np.testing.assert_allclose(times, np.arange(T) / FPS, atol=1e-7)
    weights = _accessor(g, blob, sampler.output).reshape(T, T)
    np.testing.assert_array_equal(weights, np.eye(T))
    assert g.animations[0].channels[0].target.path == "weights"
    pos = g.accessors[prim.attributes.POSITION]
    np.testing.assert_allclose(pos.min, verts[0].min(0), atol=1e-7)
    assert json.loads(json.dumps(g.asset.extras))["clip_key"] == ["synthme", "sub01", "EP01_01"]


def test_save_glb_checks_its_input(tmp_path):
    v = np.zeros((2, 3, 3), np.float32)
    with pytest.raises(ShapeError):
        save_glb(tmp_path / "a.glb", v[0], [[0, 1, 2]], fps=30)
    with pytest.raises(InputValueError, match="fps"):
        save_glb(tmp_path / "a.glb", v, [[0, 1, 2]], fps=0)
    with pytest.raises(InputValueError):
        save_glb(tmp_path / "a.glb", v, [[0, 1, 3]], fps=30)
    assert not (tmp_path / "a.glb").exists()


# ----------------------------------------------------------------------------- the folder and the dataset
def test_export_reconstruction_writes_every_file(rec, mh_head, tmp_path):
    out = tmp_path / "rec"
    exported = export_reconstruction(rec, out, model=mh_head)
    names = sorted(p.name for p in exported.files)
    assert names == ["apex.obj", "arkit.csv", "frames.csv", "onset.obj", "reconstruction.glb",
                     "reconstruction.npz", "viewer.html"]
    table = pd.read_csv(out / "frames.csv")
    pd.testing.assert_frame_equal(table, frame_table(rec, mh_head), check_dtype=False, atol=1e-9)
    nofps = _rec(mh_head, fps=float("nan"))
    with pytest.raises(InputValueError, match="fps="):
        export_reconstruction(nofps, tmp_path / "nofps", model=mh_head)
    assert not (tmp_path / "nofps").exists()
    assert export_reconstruction(nofps, tmp_path / "withfps", model=mh_head, fps=25.0).files


def test_dataset_table_parquet_and_csv(rec, mh_head, tmp_path, monkeypatch):
    pytest.importorskip("pyarrow")
    from dataclasses import replace

    other = replace(rec, clip_key=("synthme", "sub02", "EP02_01"))
    path = export_frame_tables([rec, other], tmp_path / "all.parquet", model=mh_head)
    back = pd.read_parquet(path)
    assert len(back) == 2 * T and back["subject"].tolist() == ["sub01"] * T + ["sub02"] * T
    pd.testing.assert_frame_equal(back.iloc[:T].reset_index(drop=True), frame_table(rec, mh_head),
                                  check_dtype=False)
    csv = export_frame_tables([frame_table(rec, mh_head)], tmp_path / "all.csv")
    assert len(pd.read_csv(csv)) == T
    with pytest.raises(OptionError, match=r"\.parquet or \.csv"):
        export_frame_tables([rec], tmp_path / "all.xlsx", model=mh_head)
    with pytest.raises(InputValueError, match="model="):
        export_frame_tables([rec], tmp_path / "all.csv")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(BackendUnavailableError, match=r"mxkit\[parquet\]"):
        export_frame_tables([rec], tmp_path / "b.parquet", model=mh_head)
    assert not (tmp_path / "b.parquet").exists()
