"""Evaluating a classifier on a labelled dataset: metrics and the HTML report."""
