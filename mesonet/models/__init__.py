"""The networks, the weights catalog, scoring, ensembles, calibration and explanations."""
