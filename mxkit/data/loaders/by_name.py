"""Load a dataset folder by the name of its format: :func:`load_dataset`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..._checks import check_option
from ..._io import display_path
from ...errors import InputValueError
from ..clip import ClipSet

__all__ = ["DATASET_LOADERS", "load_dataset"]

#: Dataset names accepted by :func:`load_dataset` (and ``mxkit ... --dataset``): name -> the
#: loader's name in :mod:`mxkit.data`. ``'auto'`` (not listed) means SynthME when the folder
#: holds a ``synthme.json`` manifest. The long-video loaders (:func:`~mxkit.data.load_samm_lv`,
#: :func:`~mxkit.data.load_casme3_videos`) return a LongVideoSet and are not listed.
DATASET_LOADERS: dict[str, str] = {
    "synthme": "load_synthme", "casme2": "load_casme2", "casme": "load_casme", "samm": "load_samm",
    "casme_sq": "load_casme_sq", "smic": "load_smic", "mmew": "load_mmew", "ckplus": "load_ckplus",
    "casme3": "load_casme3",
}


def load_dataset(root: str | os.PathLike, dataset: str = "auto", **options: Any) -> ClipSet:
    """Load a dataset folder with the :mod:`mxkit.data` loader named by ``dataset``.

    Parameters
    ----------
    root : path-like
        The dataset folder (a local copy in the official layout, or a SynthME folder).
    dataset : str, optional
        One of :data:`DATASET_LOADERS` (``'casme2'``, ``'samm'``, ``'synthme'``, ...) or
        ``'auto'`` (default): SynthME when ``root`` holds a ``synthme.json`` manifest.
    **options
        Passed to the loader (e.g. ``window='all'`` for :func:`~mxkit.data.load_casme2`).

    Returns
    -------
    ClipSet
        What the loader returns. A SynthME folder read with ``dataset='casme2'`` gives its
        clips in the CASME II layout, without the 3D ground truth.

    Raises
    ------
    InputValueError
        ``root`` does not exist or is not a folder, or ``'auto'`` finds no ``synthme.json``.
    OptionError
        ``dataset`` is not a known name.
    """
    from ... import data

    path = Path(root).expanduser()
    if not path.exists():
        raise InputValueError(f"dataset folder '{display_path(root)}' does not exist")
    if not path.is_dir():
        raise InputValueError(f"dataset folder '{display_path(root)}' is not a folder")
    if dataset == "auto":
        if not (path / "synthme.json").is_file():
            raise InputValueError(f"'{display_path(root)}' is not a SynthME folder (no synthme.json); say "
                                  f"which dataset it is ({', '.join(DATASET_LOADERS)})")
        dataset = "synthme"
    check_option(dataset, tuple(DATASET_LOADERS), "dataset")
    return getattr(data, DATASET_LOADERS[dataset])(path, **options)
