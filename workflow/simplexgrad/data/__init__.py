"""The study's data: verified downloads, the ENCODE manifest and portal, genomes and the in vivo datasets,
JASPAR motifs and the synthetic billboard datasets."""
