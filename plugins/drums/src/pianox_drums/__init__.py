"""Drum transcription task for pianox (task `drums`): frame-level multi-label onsets and
velocities per drum class, per-class tuned peak picking, sliding-window inference, drum MIDI,
Clone Hero charts, ONNX export. See docs/drums.md."""
