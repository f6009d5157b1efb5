"""Workflows: everything that composes mxkit's stages, in one top layer.

The stages (``mxkit.pipeline``, ``mxkit.fit``, ``mxkit.nets``, ``mxkit.eval``, ``mxkit.train``,
...) are plain functions that know nothing of each other's composition; this package chains
them. Nothing below it imports it (``docs/architecture.md``; ``tests/test_architecture.py``
enforces the layer order). ``mxkit.cli`` parses arguments and calls these functions.

====================================  ======================================================
module                                what it composes
====================================  ======================================================
:mod:`~mxkit.workflows.weights`       weights bundles: :func:`weights_bundle`,
                                      :func:`load_bundle` (the one reader),
                                      :func:`load_weights`, :func:`load_networks`,
                                      :func:`weights_settings`
:mod:`~mxkit.workflows.reconstruct`   :func:`reconstruct` (``mxkit.reconstruct``): prepare ->
                                      coarse fit -> DynamicEncoder -> MeshDeformer
:mod:`~mxkit.workflows.batch`         many clips: :func:`prepared_clips`,
                                      :func:`iter_reconstructions`, :func:`reconstruct_clip`
:mod:`~mxkit.workflows.export`        what ``mxkit reconstruct`` writes
                                      (:func:`export_reconstruction`: NPZ, per-frame table,
                                      ARKit CSV, glTF), :func:`export_frame_tables`
:mod:`~mxkit.workflows.ablation`      :func:`run_ablation` (``mxkit evaluate``)
:mod:`~mxkit.workflows.recognition`   :func:`run_recognition` (``mxkit recognise``)
:mod:`~mxkit.workflows.synthme`       SynthME as training / evaluation data
:mod:`~mxkit.workflows.recipe`        the training recipe of the shipped weights
                                      (:func:`train_weights`, ``mxkit train``)
:mod:`~mxkit.workflows.demo`          the main job (:func:`run_demo`, ``mxkit demo``) and its
                                      report
:mod:`~mxkit.workflows.showcase`      the face-model showcase (``mxkit model``)
====================================  ======================================================
"""

from . import recipe
from .ablation import (
    SUMMARY_METRICS,
    AblationResult,
    clip_table,
    region_table,
    run_ablation,
    variant_summary,
)
from .batch import iter_reconstructions, prepared_clips, reconstruct_clip
from .demo import DEMO_SEED, DEMO_VARIANTS, DemoResult, run_demo
from .export import (
    RECONSTRUCTION_FORMAT_VERSION,
    ReconstructionExport,
    export_frame_tables,
    export_reconstruction,
    frame_table,
    reconstruction_arrays,
    write_arkit_csv,
    write_glb,
)
from .recipe import TrainedWeights, train_weights
from .recognition import (
    RECOGNITION_FEATURES,
    RecognitionComparison,
    RecognitionOptions,
    run_recognition,
)
from .reconstruct import Reconstruction, coarse_fit, reconstruct
from .showcase import SHOWCASE_AUS, export_model_showcase
from .synthme import expression_type_of, prepare_clips, synthme_dataset, synthme_samples
from .weights import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    DEFAULT_FIT,
    DEFAULT_PREPARE,
    DEFAULT_WEIGHTS,
    default_weights_path,
    load_bundle,
    load_networks,
    load_weights,
    weights_bundle,
    weights_settings,
)

__all__ = [
    "recipe",
    "BUNDLE_FORMAT", "BUNDLE_VERSION", "DEFAULT_FIT", "DEFAULT_PREPARE", "DEFAULT_WEIGHTS",
    "default_weights_path", "load_bundle", "load_networks", "load_weights", "weights_bundle",
    "weights_settings",
    "Reconstruction", "reconstruct", "coarse_fit",
    "prepared_clips", "iter_reconstructions", "reconstruct_clip",
    "ReconstructionExport", "export_reconstruction", "reconstruction_arrays",
    "RECONSTRUCTION_FORMAT_VERSION", "frame_table", "export_frame_tables", "write_arkit_csv",
    "write_glb",
    "SUMMARY_METRICS", "AblationResult", "run_ablation", "clip_table", "variant_summary",
    "region_table",
    "RECOGNITION_FEATURES", "RecognitionComparison", "RecognitionOptions", "run_recognition",
    "expression_type_of", "prepare_clips", "synthme_dataset", "synthme_samples",
    "TrainedWeights", "train_weights",
    "DEMO_SEED", "DEMO_VARIANTS", "DemoResult", "run_demo",
    "SHOWCASE_AUS", "export_model_showcase",
]
