"""PercePiano perception task for pianox: 19 perceptual ratings from an AST (or a baseline).

Registers the task `perception`, the baseline models `cnn` (log-mel CNN) and `ffn` (MLP on
clip statistics), the features `handcrafted` (librosa descriptors) and the commands
`pianox rate` and `pianox perception {cv,compare,rollout,correlations}`. Importing this
package imports nothing heavy; each entry point names its own module. See docs/perception.md.
"""
