#!/usr/bin/env python3
"""Checks that Hugging Face transformers and PEFT load what finetune.cpp writes, and agree with it.

  check_hf_interop.py --finetune build/finetune --model DIR [--adapter DIR] --input TEXTS.txt

For the model directory (and, with --adapter, the PEFT adapter on top of it) this compares, text by text:
  - token ids: `finetune tokenize` against AutoTokenizer.from_pretrained(DIR);
  - logits: `finetune predict --json --device cpu` against AutoModelForSequenceClassification
    (+ PeftModel.from_pretrained) in float32 on the CPU.
Exits 1 on any difference beyond --atol, printing the first ones. Needs torch, transformers (and peft).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def run_finetune(binary, args):
    proc = subprocess.run([binary] + args, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"finetune {' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--finetune", required=True, help="the finetune binary")
    ap.add_argument("--model", required=True, help="a model directory written by finetune (train, merge, pretrain)")
    ap.add_argument("--adapter", help="a PEFT adapter directory written by finetune train --method lora")
    ap.add_argument("--input", required=True, help="one text a line")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--atol", type=float, default=1e-4)
    a = ap.parse_args()

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    with open(a.input, encoding="utf-8") as f:
        texts = [line.rstrip("\n") for line in f]

    # Token ids.
    tokenizer = AutoTokenizer.from_pretrained(a.model)
    with tempfile.TemporaryDirectory() as tmp:
        ids_path = os.path.join(tmp, "ids.jsonl")
        run_finetune(a.finetune, ["tokenize", "--tokenizer", a.model, "--input", a.input, "--output", ids_path,
                                  "--max-length", str(a.max_length)])
        ours_ids = [r["input_ids"] for r in read_jsonl(ids_path)]
    theirs_ids = [tokenizer(t, truncation=True, max_length=a.max_length)["input_ids"] for t in texts]
    id_mismatch = [i for i, (x, y) in enumerate(zip(ours_ids, theirs_ids)) if x != y]
    print(f"tokenizer ({type(tokenizer).__name__}): {len(texts) - len(id_mismatch)}/{len(texts)} texts with identical ids")
    for i in id_mismatch[:5]:
        print(f"  line {i + 1}: ours {ours_ids[i]}\n          HF   {theirs_ids[i]}")

    # Logits.
    predict = ["predict", "--model", a.model, "--input", a.input, "--json", "--device", "cpu",
               "--max-length", str(a.max_length)]
    if a.adapter:
        predict += ["--adapter", a.adapter]
    ours = torch.tensor([json.loads(line)["logits"] for line in run_finetune(a.finetune, predict).splitlines() if line])

    model = AutoModelForSequenceClassification.from_pretrained(a.model)
    if a.adapter:
        from peft import PeftModel
        model = PeftModel.from_pretrained(model, a.adapter)
    model.eval()
    theirs = []
    with torch.no_grad():
        for start in range(0, len(texts), 32):
            enc = tokenizer(texts[start:start + 32], truncation=True, max_length=a.max_length, padding=True,
                            return_tensors="pt")
            theirs.append(model(**enc).logits.float())
    theirs = torch.cat(theirs)
    diff = (ours - theirs).abs()
    worst = diff.max().item()
    agree = (ours.argmax(-1) == theirs.argmax(-1)).float().mean().item()
    what = f"{a.model}" + (f" + adapter {a.adapter}" if a.adapter else "")
    print(f"logits ({what}): {len(texts)} texts, max |ours - HF| = {worst:.3g}, same label for {agree:.2%}")
    ok = not id_mismatch and worst <= a.atol
    print("OK" if ok else f"MISMATCH (atol {a.atol})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
