"""Helpers of tests/gen_goldens.py: tiny model specs, float64 Hugging Face
reference runs, an independent numpy reference forward, pooling/case writing
and GGUF export. See tests/gen_goldens.py for how to run."""
