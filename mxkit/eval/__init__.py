"""Evaluation: reconstruction metrics, recognition under leakage-safe LOSO, baselines, ablations.

Every number mxkit reports is defined in the docstring of the module that computes it:

* :mod:`mxkit.eval.reconstruction` -- vertex L1 / L2 / RMSE after rigid alignment (mm), the
  micro-motion error of the apex - onset field (overall, per facial region, per AU region),
  landmark NME, flow consistency (px), jitter noise floor and ME signal-to-noise; tidy
  per-clip tables (:func:`evaluate_reconstruction`) and their averages
  (:func:`aggregate_metrics`);
* :mod:`mxkit.eval.motion` -- the honest motion metrics: active-region relative error,
  amplitude ratio and cosine of the displacement field on the vertices that truly move, the
  no-motion reference, per-clip win rates, bootstrap intervals over clips and subjects
  (:func:`motion_summary`, :func:`region_motion_table`);
* :mod:`mxkit.eval.depth` -- depth consistency: a reconstruction's rendered depth after a
  rigid + scale alignment on the onset frame against measured depth (CAS(ME)³), per facial
  region, with the sensor noise floor beside every number (:func:`depth_consistency`);
* :mod:`mxkit.eval.metrics` -- UF1, UAR, WF1, ACC from the MEGC formulas with an explicit
  empty-class policy, confusion matrices;
* :mod:`mxkit.eval.recognition` -- LOSO keyed by (dataset, subject) with model selection on
  the training subjects only, pooled predictions, protocol cards (:func:`recognise`,
  :func:`recognise_clips`);
* :mod:`mxkit.eval.classifiers` -- linear SVM, logistic regression, random forest, torch MLP;
* :mod:`mxkit.eval.features` -- features from a reconstruction (region displacements,
  expression trajectories, dynamic code);
* :mod:`mxkit.eval.baselines` -- the 2D optical-flow baseline (grid u/v, strain, HOOF + SVM);
* :mod:`mxkit.eval.oracle` -- a SynthME clip's ground truth as a Reconstruction-like object
  (the upper bound of every metric and feature);
* :mod:`mxkit.eval.ablation` -- the comparison table with the paper's figures as separate
  'as reported' rows.

The one-call runners that reconstruct and evaluate whole datasets (``run_ablation``,
``run_recognition``) compose these with the reconstruction, so they live in
:mod:`mxkit.workflows`.

Importing :mod:`mxkit.eval` does not import scikit-learn or any plotting library.
"""

from .ablation import (
    REPORTED,
    REPORTED_SOURCE,
    TABLE_METRICS,
    VARIANTS,
    AblationTable,
    ablation_row,
    ablation_table,
)
from .baselines import FLOW_FEATURE_KINDS, flow_baseline, flow_feature_matrix, flow_features
from .classifiers import (
    CLASSIFIERS,
    DEFAULT_GRIDS,
    Classifier,
    TorchMLP,
    grid_candidates,
    make_classifier,
)
from .depth import (
    DEPTH_METRICS,
    DEPTH_TABLE_COLUMNS,
    DepthConsistency,
    camera_from_weak_perspective,
    depth_consistency,
    depth_noise_floor,
)
from .features import (
    FEATURE_GROUPS,
    FeatureSet,
    dynamic_code_features,
    feature_matrix,
    reconstruction_features,
    region_displacement_features,
    trajectory_features,
)
from .metrics import (
    EMPTY_CLASS_POLICIES,
    METRICS,
    check_classes,
    class_scores,
    classification_metrics,
    confusion_matrix,
    encode_labels,
)
from .motion import (
    ACTIVE_METRICS,
    ACTIVE_THRESHOLD,
    MOTION_METRICS,
    NO_MOTION,
    MotionSummary,
    active_motion_metrics,
    active_motion_values,
    active_vertices,
    compare_variants,
    motion_summary,
    region_motion_table,
    win_rates,
)
from .oracle import OracleReconstruction, oracle_reconstruction
from .recognition import (
    Fold,
    RecognitionResult,
    inner_folds,
    loso_folds,
    make_card,
    recognise,
    recognise_clips,
    subject_keys,
)
from .reconstruction import (
    ALIGN_MODES,
    TABLE_COLUMNS,
    NoMotionReference,
    ReconstructionMetrics,
    aggregate_metrics,
    displacement_field,
    error_over_time,
    evaluate_no_motion,
    evaluate_reconstruction,
    face_mask,
    flow_consistency_error,
    flow_consistency_table,
    landmark_nme,
    landmark_table,
    micro_motion_error,
    micro_motion_table,
    motion_error_map,
    no_motion_reference,
    noise_floor,
    noise_table,
    region_weights,
    rigid_align,
    signal_to_noise,
    vertex_error_map,
    vertex_error_table,
    vertex_errors,
)

__all__ = [
    "ablation_row",
    "ablation_table",
    "AblationTable",
    "aggregate_metrics",
    "ALIGN_MODES",
    "check_classes",
    "class_scores",
    "classification_metrics",
    "Classifier",
    "CLASSIFIERS",
    "camera_from_weak_perspective",
    "confusion_matrix",
    "DEFAULT_GRIDS",
    "DEPTH_METRICS",
    "DEPTH_TABLE_COLUMNS",
    "depth_consistency",
    "depth_noise_floor",
    "DepthConsistency",
    "displacement_field",
    "dynamic_code_features",
    "EMPTY_CLASS_POLICIES",
    "encode_labels",
    "error_over_time",
    "evaluate_reconstruction",
    "face_mask",
    "FEATURE_GROUPS",
    "feature_matrix",
    "FeatureSet",
    "flow_baseline",
    "flow_consistency_error",
    "flow_consistency_table",
    "FLOW_FEATURE_KINDS",
    "flow_feature_matrix",
    "flow_features",
    "Fold",
    "grid_candidates",
    "inner_folds",
    "landmark_nme",
    "landmark_table",
    "loso_folds",
    "make_card",
    "make_classifier",
    "METRICS",
    "micro_motion_error",
    "micro_motion_table",
    "motion_error_map",
    "noise_floor",
    "noise_table",
    "oracle_reconstruction",
    "OracleReconstruction",
    "recognise",
    "recognise_clips",
    "RecognitionResult",
    "reconstruction_features",
    "ReconstructionMetrics",
    "region_displacement_features",
    "region_weights",
    "REPORTED",
    "REPORTED_SOURCE",
    "rigid_align",
    "signal_to_noise",
    "subject_keys",
    "TABLE_COLUMNS",
    "TABLE_METRICS",
    "TorchMLP",
    "trajectory_features",
    "VARIANTS",
    "vertex_error_map",
    "vertex_error_table",
    "vertex_errors",
]

# Issue 17: the field's 2D baselines (LBP-TOP, Bi-WOOF, MDMO, flow CNNs), fusion, statistics and
# the published figures (kept apart from mxkit's results).
from .apexflow import BASELINE_FLOW, ApexFlow, apex_flow  # noqa: E402
from .biwoof import biwoof, biwoof_features  # noqa: E402
from .evaluation_protocols import EVALUATION_PROTOCOLS, evaluation_card, evaluation_table  # noqa: E402
from .field_baselines import (  # noqa: E402
    BASELINE_KINDS,
    HANDCRAFTED_KINDS,
    apex_flows,
    baseline_feature_matrix,
    baseline_recognise_clips,
    cnn_recognise_clips,
)
from .flownets import (  # noqa: E402
    CNN_ARCHS,
    OffApexNet,
    STSTNet,
    cnn_recognise,
    flow_cnn_input,
    flow_cnn_inputs,
    train_flow_cnn,
)
from .fusion import late_fusion, late_fusion_clips  # noqa: E402
from .lbptop import lbp_top, lbptop_features, resample_frames, tim_matrix  # noqa: E402
from .mdmo import MDMO_ROIS, mdmo, mdmo_features, mdmo_rois  # noqa: E402
from .published import REPORTED_RECOGNITION, reported_recognition  # noqa: E402
from .stats import (  # noqa: E402
    Interval,
    PermutationTest,
    bootstrap_interval,
    bootstrap_intervals,
    paired_permutation_test,
)

__all__ += [
    "ApexFlow", "apex_flow", "apex_flows", "BASELINE_FLOW", "BASELINE_KINDS", "baseline_feature_matrix",
    "baseline_recognise_clips", "biwoof", "biwoof_features", "bootstrap_intervals", "CNN_ARCHS",
    "cnn_recognise", "cnn_recognise_clips", "evaluation_card", "EVALUATION_PROTOCOLS", "evaluation_table", "flow_cnn_input", "flow_cnn_inputs", "HANDCRAFTED_KINDS",
    "late_fusion", "late_fusion_clips", "lbp_top", "lbptop_features", "mdmo", "mdmo_features", "MDMO_ROIS",
    "mdmo_rois", "OffApexNet", "paired_permutation_test", "PermutationTest", "REPORTED_RECOGNITION",
    "reported_recognition", "resample_frames", "STSTNet", "tim_matrix", "train_flow_cnn",
]
# Issue 15: honest motion metrics (active regions, the no-motion reference, win rates, intervals).
__all__ += [
    "ACTIVE_METRICS", "ACTIVE_THRESHOLD", "active_motion_metrics", "compare_variants", "active_motion_values", "active_vertices",
    "bootstrap_interval", "evaluate_no_motion", "Interval", "MOTION_METRICS", "motion_summary",
    "MotionSummary", "NO_MOTION", "no_motion_reference", "NoMotionReference", "region_motion_table", "win_rates",
]
