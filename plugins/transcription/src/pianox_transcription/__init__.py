"""Piano transcription task for pianox (seq2seq note decoder and frame head)."""
