"""Loaders of the real datasets, one module per dataset (formats: ``DATASETS.md``).

Every loader takes the user's dataset folder, reads the official label file cell by cell and
returns a :class:`~mxkit.data.ClipSet` (the long-video loaders :func:`load_samm_lv` and
:func:`load_casme3_videos` a :class:`~mxkit.data.LongVideoSet`); nothing is written to the
dataset folder. A row that cannot be read is reported (``invalid_row``) and never stops the
others from loading.
"""

from .by_name import DATASET_LOADERS, load_dataset
from .casme import load_casme
from .casme2 import load_casme2
from .casme3 import load_casme3, load_casme3_videos
from .casme_sq import load_casme_sq
from .ckplus import load_ckplus
from .megc2019 import load_megc2019, read_megc2019_gt
from .mmew import load_mmew
from .samm import load_samm
from .samm_lv import load_samm_lv
from .smic import load_smic

__all__ = ["load_casme2", "load_casme", "load_samm", "load_casme_sq", "load_smic", "load_mmew",
           "load_ckplus", "load_megc2019", "read_megc2019_gt", "load_dataset", "DATASET_LOADERS",
           "load_casme3", "load_casme3_videos", "load_samm_lv"]
