#!/usr/bin/env python3
"""The Python original, for speed and memory comparisons: Hugging Face Trainer (+ PEFT for LoRA).

  hf_reference.py --model DIR --train-file ratings_train.txt --arm full|lora --max-steps N [--random-init] [--fp16]

Trains RobertaForSequenceClassification as the study did (batch 32, max length 128, dynamic padding,
lr 2e-5 full / 2e-4 LoRA r 8 alpha 32 on query+value) on a seeded sample of the training reviews, and
prints one JSON line: samples/s as Trainer reports it, and the peak GPU memory PyTorch allocated.
Beside it, on the same machine: finetune train --model DIR --random-init --method full|lora
--learning-rate 2e-5|2e-4 --train-file ratings_train.txt --max-train-samples 19200 --max-steps 600
--eval-strategy no --device cuda --fp16 (README, "Speed").
"""
import argparse
import csv
import json
import random
import sys


def read_nsmc(path, n, seed):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    rows = random.Random(seed).sample(rows, min(n, len(rows)))
    return [r[1] for r in rows], [int(r[2]) for r in rows]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--train-file", required=True)
    ap.add_argument("--arm", choices=["full", "lora"], required=True)
    ap.add_argument("--max-steps", type=int, default=500)
    ap.add_argument("--random-init", action="store_true")
    ap.add_argument("--fp16", action="store_true")
    ap.add_argument("--output-dir", default="/tmp/hf_reference")
    a = ap.parse_args()

    import torch
    from transformers import (AutoConfig, AutoModelForSequenceClassification, AutoTokenizer,
                              DataCollatorWithPadding, Trainer, TrainingArguments, set_seed)

    set_seed(42)
    tok = AutoTokenizer.from_pretrained(a.model)
    texts, labels = read_nsmc(a.train_file, 32 * a.max_steps, 42)
    enc = tok(texts, truncation=True, max_length=128)
    data = [{"input_ids": i, "attention_mask": m, "labels": y}
            for i, m, y in zip(enc["input_ids"], enc["attention_mask"], labels)]
    if a.random_init:
        model = AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained(a.model, num_labels=2))
    else:
        model = AutoModelForSequenceClassification.from_pretrained(a.model, num_labels=2)
    lr = 2e-5
    if a.arm == "lora":
        from peft import LoraConfig, TaskType, get_peft_model
        model = get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, r=8, lora_alpha=32, lora_dropout=0.1,
                                                 target_modules=["query", "value"]))
        lr = 2e-4
    args = TrainingArguments(output_dir=a.output_dir, per_device_train_batch_size=32, learning_rate=lr,
                             max_steps=a.max_steps, fp16=a.fp16, seed=42, logging_steps=100, save_strategy="no",
                             report_to=[], disable_tqdm=True)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=DataCollatorWithPadding(tok))
    metrics = trainer.train().metrics
    out = {"impl": "hf", "arm": a.arm, "steps": a.max_steps, "fp16": a.fp16,
           "samples_per_second": metrics["train_samples_per_second"], "train_runtime_s": metrics["train_runtime"],
           "final_loss": metrics["train_loss"],
           "peak_gpu_allocated_bytes": torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None,
           "torch": torch.__version__, "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"}
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
