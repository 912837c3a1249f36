"""Contrastive LoRA fine-tuning of a causal decoder into a text embedder.

``python -m llmbed.train contrastive --model BASE --data FILES --output DIR``
(extra ``llmbed[train]``: torch, transformers, peft) writes a PEFT LoRA
adapter folder that ``llmbed embed --model BASE --adapter DIR`` merges at
load, with sentence-transformers' ``modules.json`` / ``1_Pooling`` beside
it so llmbed picks the pooling the adapter was trained with. Token ids come
from llmbed's own tokenizer (the same BOS/EOS rules as at inference), so the
training inputs are exactly what ``llmbed embed`` feeds the model. Nothing of
this subpackage is imported by ``import llmbed``.
"""
