"""The training engine every task trains with (imported lazily: `pianox.train.engine`)."""
