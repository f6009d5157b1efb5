"""Shared fixtures: seeded generators, a tiny toy face model and the embedded mh-head model."""

from __future__ import annotations

import os

# Sleeping OpenMP waits for torch's threads in this process and in the notebook kernels it
# starts (inherited environment), unless set: see benchmarks/run.py. Must precede the torch import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from mxkit.morph import ARKIT_NAMES, FaceModel, LandmarkEmbedding


def make_toy_model(n: int = 5, *, n_identity: int = 3, dtype=torch.float64, seed: int = 0) -> FaceModel:
    """A (n x n)-vertex grid in the z=0 plane with random smooth bases and all 52 ARKit names.

    Small enough for float64 gradcheck; AU and landmark code paths work on it.
    """
    rng = np.random.default_rng(seed)
    xs = np.linspace(-0.05, 0.05, n)
    X, Y = np.meshgrid(xs, xs)
    verts = np.stack([X.ravel(), Y.ravel(), np.zeros(n * n)], 1)
    faces = []
    for r in range(n - 1):
        for c in range(n - 1):
            i = r * n + c
            faces += [[i, i + 1, i + n + 1], [i, i + n + 1, i + n]]
    faces = np.array(faces)
    expr = rng.normal(scale=1e-3, size=(len(ARKIT_NAMES), n * n, 3))
    ident = rng.normal(scale=1e-3, size=(n_identity, n * n, 3))
    lmk = LandmarkEmbedding(faces=[0, len(faces) - 1], bary=[[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    return FaceModel(name="toy", v_template=verts, faces=faces, expr_basis=expr,
                     expr_names=ARKIT_NAMES, id_basis=ident, landmarks={"ibug68": lmk},
                     region_names=["left", "right"], region_labels=(verts[:, 0] > 0).astype(int),
                     dtype=dtype)


@pytest.fixture
def toy_model() -> FaceModel:
    return make_toy_model()


@pytest.fixture(scope="session")
def mh_head() -> FaceModel:
    from mxkit.morph import load_face_model

    return load_face_model("mh-head")


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(0)
