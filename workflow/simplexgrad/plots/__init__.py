"""Drawing the study's figures from tidy tables and arrays: one function per figure, named as the figure,
returning a matplotlib Figure; :mod:`simplexgrad.figures` reads the files and writes them."""

from simplexgrad._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "_common": [
            "save_figure",
            "model_label",
            "logo_glyphs",
            "logo_track",
            "angle_track",
            "angle_axis",
            "large_angle_panels",
            "model_angles",
        ],
        "synthetic": [
            "fig2_interpretability",
            "fig2_correction",
            "fig3a_patch",
            "fig3c_motif_angles",
            "fig3d_background_angles",
            "fig4a_large_angles",
            "modisco_recovery",
        ],
        "invivo": [
            "fig3b_invivo_patch",
            "fig3e_ensemble_difference",
            "appfig10_ensemble_angles",
            "fig4b_invivo_large_angles",
            "invivo_large_angle_histograms",
        ],
        "training_study": [
            "fig4c_init_study",
            "appfig14_init_study",
            "fig4d_angle_penalty",
            "appfig15_angle_penalty",
        ],
    },
)
