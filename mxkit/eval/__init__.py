"""Evaluation: reconstruction metrics, recognition under leakage-safe LOSO, baselines, ablations.

Every number mxkit reports is defined in the docstring of the module that computes it:

* :mod:`mxkit.eval.reconstruction` -- vertex L1 / L2 / RMSE after rigid alignment (mm), the
  micro-motion error of the apex - onset field (overall, per facial region, per AU region),
  landmark NME, flow consistency (px), jitter noise floor and ME signal-to-noise; tidy
  per-clip tables (:func:`evaluate_reconstruction`) and their averages
  (:func:`aggregate_metrics`);
* :mod:`mxkit.eval.metrics` -- UF1, UAR, WF1, ACC from the MEGC formulas with an explicit
  empty-class policy, confusion matrices;
* :mod:`mxkit.eval.recognition` -- LOSO keyed by (dataset, subject) with model selection on
  the training subjects only, pooled predictions, protocol cards (:func:`recognise`,
  :func:`recognise_clips`);
* :mod:`mxkit.eval.classifiers` -- linear SVM, logistic regression, random forest, torch MLP;
* :mod:`mxkit.eval.features` -- features from a reconstruction (region displacements,
  expression trajectories, dynamic code);
* :mod:`mxkit.eval.baselines` -- the 2D optical-flow baseline (grid u/v, strain, HOOF + SVM);
* :mod:`mxkit.eval.ablation` -- the comparison table with the paper's figures as separate
  'as reported' rows.

Importing :mod:`mxkit.eval` does not import scikit-learn or any plotting library.
"""

from .reconstruction import (
    ALIGN_MODES,
    TABLE_COLUMNS,
    ReconstructionMetrics,
    aggregate_metrics,
    displacement_field,
    evaluate_reconstruction,
    face_mask,
    flow_consistency_error,
    flow_consistency_table,
    landmark_nme,
    landmark_table,
    micro_motion_error,
    micro_motion_table,
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
    "ALIGN_MODES",
    "TABLE_COLUMNS",
    "ReconstructionMetrics",
    "aggregate_metrics",
    "displacement_field",
    "evaluate_reconstruction",
    "face_mask",
    "flow_consistency_error",
    "flow_consistency_table",
    "landmark_nme",
    "landmark_table",
    "micro_motion_error",
    "micro_motion_table",
    "noise_floor",
    "noise_table",
    "region_weights",
    "rigid_align",
    "signal_to_noise",
    "vertex_error_map",
    "vertex_error_table",
    "vertex_errors",
]
