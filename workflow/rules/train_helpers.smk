# The helpers of train.smk: the recipe and options of a model's training command and the seeds of the
# in vivo members.
MODEL_FILES = {
    "model": "model.keras",
    "history": "history.tsv",
    "metrics": "metrics.json",
}
RECIPE = {
    key: value
    for key, value in config["training"].items()
    if key not in ("threads", "engine")
}


def member_template(first_model, member):
    """The --out-template of an ensemble group: the folder beside the first member's, named `member`."""
    return os.path.join(os.path.dirname(os.path.dirname(first_model)), member)


def experiment_setting(experiment):
    """The training options of an experiment: {} for the main study, e.g. {'init_stddev': 0.05} for
    init_study/sigma0.05 (and the study's own epoch limit, when it sets one)."""
    study, _, setting = experiment.partition("/")
    if study not in TRAINING_STUDIES:
        return {}
    spec = TRAINING_STUDIES[study]
    epochs = config[study]["epochs"]
    return {spec["option"]: float(setting.removeprefix(spec["prefix"]))} | (
        {"epochs": epochs} if epochs else {}
    )


def kernel_option(study, architecture):
    """CNN-deep's first-layer filter length as the config section `study` (models, invivo, init_study,
    angle_penalty_study) sets it; CNN-shallow keeps the library's 19 (the authors' in text, code and
    weights alike)."""
    if architecture != "cnn_deep":
        return {}
    return {"first_layer_kernel_size": config[study]["cnn_deep_first_layer_kernel"]}


def training_options(experiment, architecture):
    """The `simplexgrad train` options of a synthetic model: the recipe, the experiment's studied option,
    CNN-deep's first-layer kernel of its study and, in the angle-penalty study, the penalty's mode.
    """
    study = experiment.partition("/")[0]
    study = study if study in TRAINING_STUDIES else "models"
    options = (
        RECIPE | experiment_setting(experiment) | kernel_option(study, architecture)
    )
    if study == "angle_penalty_study":
        options["angle_penalty_mode"] = config[study]["angle_penalty_mode"]
    return options


def invivo_seed(filters, repeat):
    """Member k (filter sizes in config order, repeats within) has seed first_seed + k: its own seed."""
    index = config["invivo"]["first_layer_filters"].index(int(filters))
    return (
        config["invivo"]["first_seed"]
        + index * config["invivo"]["repeats"]
        + int(repeat)
    )
