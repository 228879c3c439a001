#!/usr/bin/env python3
"""The runs the HF interop tests load: a few finetune training steps from the tiny HF fixture.

  prepare.py --finetune BIN --data tests/data --work DIR

Writes, under DIR (emptied first):
  base/    tests/data/hf-tiny's config.json + model.safetensors (a random tiny RoBERTa, vocab 1000) with a
           1000-entry WordPiece vocabulary: the first 1000 of tests/data/tokenizer/synthetic_vocab.txt, its
           five special tokens reordered to RoBERTa's ids ([CLS]=0 [PAD]=1 [SEP]=2 [UNK]=3 [MASK]=4, as
           hf-tiny's bos/pad/eos ids), and klue/roberta-base's tokenizer_config.json + special_tokens_map.json
  train.tsv, texts.txt   256 training reviews and 64 other texts from tests/data/nsmc/heldout_reviews.txt
  full/    finetune train --method full, 6 steps of 16 (what it writes: config, safetensors, tokenizer)
  lora/    finetune train --method lora (r 8, alpha 32, query+value; the head trained too): a PEFT adapter
  merged/  finetune merge --model base --adapter lora
and checks each run moved the weights (the logits of full, and of base + lora, differ from base's).
Needs only the finetune binary and the Python standard library. Last line: 'HF-INTEROP PASS Train: ...'
or 'HF-INTEROP FAIL Train: ...'; exits 1 on failure.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

STEPS, BATCH, MAX_LENGTH = 6, 16, 64  # hf-tiny has max_position_embeddings 66: 64 tokens


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--finetune", required=True)
    ap.add_argument("--data", required=True, help="tests/data")
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    try:
        summary = prepare(a)
    except Exception as e:  # noqa: BLE001 -- any failure is the test's failure, with its reason
        print(f"HF-INTEROP FAIL Train: {e}")
        return 1
    print(f"HF-INTEROP PASS Train: {summary}")
    return 0


def run(cmd):
    print("+", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} exited {proc.returncode}: {proc.stderr.strip()}")
    lines = proc.stderr.strip().splitlines() + proc.stdout.strip().splitlines()
    if lines:
        print("  " + lines[-1])
    return proc.stdout


def prepare(a):
    work = os.path.abspath(a.work)
    shutil.rmtree(work, ignore_errors=True)
    base = os.path.join(work, "base")
    os.makedirs(base)
    for f in ("config.json", "model.safetensors"):
        shutil.copy(os.path.join(a.data, "hf-tiny", f), base)
    with open(os.path.join(a.data, "tokenizer", "synthetic_vocab.txt"), encoding="utf-8") as f:
        vocab = f.read().split("\n")[:1000]
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    if vocab[:5] != specials:
        raise RuntimeError(f"synthetic_vocab.txt starts {vocab[:5]}, expected {specials}")
    vocab = ["[CLS]", "[PAD]", "[SEP]", "[UNK]", "[MASK]"] + vocab[5:]
    with open(os.path.join(base, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in vocab))
    for f in ("tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(os.path.join(a.data, "klue", "roberta-base", f), base)

    with open(os.path.join(a.data, "nsmc", "heldout_reviews.txt"), encoding="utf-8") as f:
        reviews = [r for r in f.read().split("\n") if r.strip() and "\t" not in r and "\r" not in r]
    # A label the texts carry (laughter or an exclamation), so that training has something to fit.
    rows = [f"{i}\t{t}\t{int('ㅋ' in t or '!' in t)}" for i, t in enumerate(reviews[:256])]
    train = os.path.join(work, "train.tsv")
    with open(train, "w", encoding="utf-8") as f:
        f.write("id\tdocument\tlabel\n" + "".join(r + "\n" for r in rows))
    texts = os.path.join(work, "texts.txt")
    with open(texts, "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in reviews[256:320]))

    ft = a.finetune
    common = ["--train-file", train, "--max-steps", str(STEPS), "--per-device-train-batch-size", str(BATCH),
              "--max-length", str(MAX_LENGTH), "--threads", "1", "--seed", "42", "--logging-steps", "1"]
    run([ft, "train", "--model", base, "--method", "full", "--learning-rate", "1e-3",
         "--output-dir", os.path.join(work, "full")] + common)
    run([ft, "train", "--model", base, "--method", "lora", "--learning-rate", "1e-2", "--lora-r", "8",
         "--lora-alpha", "32", "--lora-target-modules", "query,value", "--output-dir", os.path.join(work, "lora")] + common)
    run([ft, "merge", "--model", base, "--adapter", os.path.join(work, "lora"), "--output-dir", os.path.join(work, "merged")])

    def logits(*args):
        out = run([ft, "predict", "--input", texts, "--json", "--device", "cpu", "--threads", "1",
                   "--max-length", str(MAX_LENGTH)] + list(args))
        return [json.loads(line)["logits"] for line in out.splitlines() if line.strip()]

    def moved(x, y):
        return max(abs(p - q) for r, s in zip(x, y) for p, q in zip(r, s))

    at_base = logits("--model", base)
    d_full = moved(logits("--model", os.path.join(work, "full")), at_base)
    d_lora = moved(logits("--model", base, "--adapter", os.path.join(work, "lora")), at_base)
    if d_full < 1e-3 or d_lora < 1e-3:
        raise RuntimeError(f"training barely moved the logits (full {d_full:.3g}, lora {d_lora:.3g})")
    for path in ("full/model.safetensors", "full/config.json", "full/vocab.txt", "lora/adapter_config.json",
                 "lora/adapter_model.safetensors", "lora/adapter_model.bin", "merged/model.safetensors"):
        if not os.path.exists(os.path.join(work, path)):
            raise RuntimeError(f"finetune wrote no {path}")
    return (f"{STEPS} steps full, {STEPS} LoRA, merged, in {work}; logits moved from the base by up to "
            f"{d_full:.3g} (full) and {d_lora:.3g} (LoRA)")


if __name__ == "__main__":
    sys.exit(main())
