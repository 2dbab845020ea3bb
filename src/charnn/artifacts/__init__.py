"""What a run leaves on disk: checkpoints, the run directory, metrics, TensorBoard logs, info,
plots and exports.
"""
