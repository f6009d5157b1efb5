"""Importing mxkit is cheap, silent and offline, and changes no global state."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("plotly", "cv2", "dlib", "pytorch3d", "ipywidgets", "face_alignment", "mediapipe",
         "sklearn", "seaborn", "matplotlib", "numba")


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True,
                          text=True, timeout=120)


def test_import_is_silent_and_light():
    code = (
        "import os, sys, socket\n"
        "env = dict(os.environ)\n"
        "def _no_net(*a, **k): raise RuntimeError('network access at import')\n"
        "socket.socket.connect = _no_net\n"
        "import mxkit, mxkit.morph, mxkit.render, mxkit.data, mxkit.flow, mxkit.face, mxkit.viz\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert dict(os.environ) == env, 'environment changed'\n"
        "print(mxkit.__version__)\n"
    )
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == __import__("mxkit").__version__
    assert proc.stderr == ""


def test_import_does_not_seed_rngs():
    code = (
        "import torch, numpy as np\n"
        "torch.manual_seed(123); np.random.seed(123)\n"
        "import mxkit, mxkit.morph, mxkit.render\n"
        "a = torch.rand(1).item(); b = np.random.rand()\n"
        "torch.manual_seed(123); np.random.seed(123)\n"
        "assert a == torch.rand(1).item() and b == np.random.rand()\n"
    )
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr


def test_no_function_changes_the_process_thread_count():
    """torch.set_num_threads / cv2.setNumThreads only in mxkit._threads.torch_threads (which
    restores the count) and in the prepare pool's worker initializer (worker processes)."""
    import ast
    from pathlib import Path

    class Calls(ast.NodeVisitor):
        def __init__(self, file: str):
            self.file, self.stack, self.found = file, ["<module>"], []

        def visit_FunctionDef(self, node):
            self.stack.append(node.name)
            self.generic_visit(node)
            self.stack.pop()

        visit_AsyncFunctionDef = visit_FunctionDef

        def visit_Call(self, node):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name in ("set_num_threads", "setNumThreads", "set_num_interop_threads"):
                self.found.append((self.file, self.stack[-1]))
            self.generic_visit(node)

    found = []
    for path in sorted(Path(__import__("mxkit").__file__).parent.rglob("*.py")):
        v = Calls(path.name)
        v.visit(ast.parse(path.read_text(encoding="utf-8")))
        found += v.found
    assert sorted(set(found)) == [("_threads.py", "torch_threads"), ("many.py", "_init_worker")], found
