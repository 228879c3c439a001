#!/usr/bin/env bash
# Rebuilds the embedded model models/ko-roberta-small from nothing but the unlabeled NSMC reviews:
# a 10,000-token WordPiece vocabulary, then masked-LM pretraining of a 4-layer RoBERTa (hidden 256) in two
# stages: 7,200 steps from random weights, then 2,800 steps continued from them with a fresh optimizer.
# About 2 hours on 2 CPU cores. Interrupted? Run it again: each stage resumes from its checkpoint.
#
#   scripts/build-model.sh [CORPUS] [WORK_DIR]
#   CORPUS: one review a line (default: $NSMC_DIR/unlabeled_reviews.txt, else ../shared/nsmc/...)
#   WORK_DIR: scratch space (default runs/ko-roberta-small); the result replaces models/ko-roberta-small.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-${NSMC_DIR:-../shared/nsmc}/unlabeled_reviews.txt}
work=${2:-runs/ko-roberta-small}
model=models/ko-roberta-small
[ -f "$corpus" ] || { echo "error: corpus $corpus not found (give it as the first argument)" >&2; exit 1; }
[ -x build/finetune ] || { cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null && cmake --build build --target finetune; }

# 1. Vocabulary: HF WordPieceTrainer's algorithm, RoBERTa-style special ids ([CLS]=0 [PAD]=1 [SEP]=2).
if [ ! -f "$work/init/vocab.txt" ]; then
  build/finetune tokenizer train --input "$corpus" --vocab-size 10000 --limit-alphabet 2000 --output "$work/init"
fi
# 2. Architecture (random init): 4 layers, hidden 256, 4 heads, FFN 1024, 128-token sequences.
cat > "$work/init/config.json" <<'EOF'
{
  "architectures": ["RobertaForMaskedLM"],
  "model_type": "roberta",
  "vocab_size": 10000,
  "hidden_size": 256,
  "num_hidden_layers": 4,
  "num_attention_heads": 4,
  "intermediate_size": 1024,
  "hidden_act": "gelu",
  "max_position_embeddings": 130,
  "type_vocab_size": 1,
  "pad_token_id": 1,
  "bos_token_id": 0,
  "eos_token_id": 2,
  "layer_norm_eps": 1e-05,
  "hidden_dropout_prob": 0.1,
  "attention_probs_dropout_prob": 0.1,
  "initializer_range": 0.02
}
EOF
# 3. Masked-LM pretraining; the corpus's last 2,000 lines are held out for the MLM evaluation.
#    Stage 1 from random weights; stage 2 continues from stage 1's weights (new AdamW state, new warmup, other
#    seed: other masks and order), because stage 1 ended with its loss still falling fast.
common=(--corpus "$corpus" --per-device-train-batch-size 32 --max-length 128
        --eval-lines 2000 --eval-steps 500 --save-steps 250 --logging-steps 50)
resume_flag() { [ -f "$1/checkpoint/trainer_state.json" ] && echo --resume || true; }
if [ ! -f "$work/out/pretrain_results.json" ]; then
  build/finetune pretrain --model-config "$work/init" --output-dir "$work/out" $(resume_flag "$work/out") "${common[@]}" \
    --max-steps 7200 --learning-rate 1e-3 --warmup-steps 500 --seed 42
fi
if [ ! -f "$work/out2/pretrain_results.json" ]; then
  build/finetune pretrain --model "$work/out" --output-dir "$work/out2" $(resume_flag "$work/out2") "${common[@]}" \
    --max-steps 2800 --learning-rate 5e-4 --warmup-steps 200 --seed 43
fi
# 4. The shipped files (the model card, README.md, is kept).
mkdir -p "$model"
for f in config.json model.safetensors vocab.txt tokenizer.json tokenizer_config.json special_tokens_map.json \
         pretrain_results.json trainer_state.json; do
  cp "$work/out2/$f" "$model/$f.tmp" && mv "$model/$f.tmp" "$model/$f"
done
for f in pretrain_results.json trainer_state.json; do  # stage 1's records, for the model card's curve
  cp "$work/out/$f" "$model/stage1_$f.tmp" && mv "$model/stage1_$f.tmp" "$model/stage1_$f"
done
echo "model: $model ($(du -sh "$model" | cut -f1))"
