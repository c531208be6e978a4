"""Models and their training with the paper's recipe: the CNNs, one model at a time (Keras ``fit``), or an
ensemble of models of one shape as one JAX program."""

from simplexgrad._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "models": [
            "ARCHITECTURES",
            "ACTIVATIONS",
            "cnn_shallow",
            "cnn_deep",
            "build_model",
            "read_legacy_weights",
            "import_weights",
            "import_weights_file",
        ],
        "recipe": [
            "ANGLE_PENALTY_MODES",
            "AnglePenaltyMode",
            "TrainingConfig",
            "angle_penalty",
            "check_labels",
            "evaluate",
            "RUN_FILES",
            "check_run_folder",
            "save_run",
        ],
        "single": ["AngleRegularized", "compile_model", "train", "train_to_directory"],
        "ensemble": ["GROUP_FIELDS", "train_group", "predict_group", "train_ensemble"],
    },
)
