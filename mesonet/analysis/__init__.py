"""From a file to scored faces and a verdict: the pipeline, results, workers, comparisons, annotated videos."""
