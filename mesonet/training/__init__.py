"""Training and fine-tuning: the run's settings, the input pipeline, Keras callbacks, and the run in its own process."""
