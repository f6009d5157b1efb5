"""Shared fixtures: seeded generators, the toy face model of ``mxkit.testing`` and the embedded
mh-head model (the builders themselves live in ``mxkit/testing.py``)."""

from __future__ import annotations

import os

# Sleeping OpenMP waits for torch's threads in this process and in the notebook kernels it
# starts (inherited environment), unless set: see benchmarks/run.py. Must precede the torch import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
import torch  # noqa: E402

from mxkit.morph import FaceModel  # noqa: E402
from mxkit.testing import toy_face_model  # noqa: E402


@pytest.fixture
def toy_model() -> FaceModel:
    return toy_face_model()


@pytest.fixture(scope="session")
def mh_head() -> FaceModel:
    from mxkit.morph import load_face_model

    return load_face_model("mh-head")


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(0)
