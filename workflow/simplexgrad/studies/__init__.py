"""The study's analyses of its files: evaluation tables, the in vivo ensembles, motif discovery, the
training studies, any model's angles, and the scorecard of the paper's claims with the run's record."""
