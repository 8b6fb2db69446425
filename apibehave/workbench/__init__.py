"""What notebooks and the CLI call: train, replay, evaluate, tune, track, register."""
