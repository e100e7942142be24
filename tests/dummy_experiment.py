"""The dummy experiment the framework tests run (every stage a pianox.testing dummy)."""

DUMMY_EXPERIMENT = """
[run]
seed = 3
output_dir = "{out}"

[source]
kind = "dummy"
num_train = 24
num_validation = 8
num_test = 8
seconds = 0.3

[features]
kind = "dummy"

[model]
kind = "dummy"

[task]
kind = "dummy"

[backend]
kind = "cpu"

[train]
epochs = 2
batch_size = 4
lr = 3e-3
metric = "val/mae"
"""
