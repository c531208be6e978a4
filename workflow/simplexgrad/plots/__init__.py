"""Drawing the study's figures from tidy tables and arrays: one function per figure, named as the figure,
returning a matplotlib Figure (:mod:`~simplexgrad.plots.synthetic`, :mod:`~simplexgrad.plots.invivo`,
:mod:`~simplexgrad.plots.training_study`), and the pieces they share (:mod:`~simplexgrad.plots.common`);
:mod:`simplexgrad.figures` reads the files and writes them."""
