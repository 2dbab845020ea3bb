"""charnn tune: searching a config's space with Optuna (the `tune` extra)."""
