#!/usr/bin/env python3
"""The Python original, for speed and memory comparisons: Hugging Face Trainer (+ PEFT for LoRA).

  hf_reference.py --model DIR --train-file ratings_train.txt --arm full|lora|eval [--max-steps N]
                  [--warmup-steps 1] [--train-samples N] [--eval-samples N] [--eval-file FILE]
                  [--threads N] [--device auto|cpu|cuda] [--random-init] [--fp16|--bf16]

Measures what build/bench_train measures (bench/bench_train.cpp), the same way:
  full, lora: RobertaForSequenceClassification (lr 2e-5 full; 2e-4 LoRA r 8 alpha 32 dropout 0.1 on
    query+value, through PEFT), batch 32, max length 128, dynamic padding, on the same seeded subset of
    the training reviews as bench_train (32 x max(steps, warm-up) of them, chosen by the same generator,
    seed 42, kept in file order). A first Trainer runs the --warmup-steps untimed; then a fresh Trainer
    (a fresh optimizer, as bench_train's) runs --max-steps, timed by a callback from its on_train_begin
    to its last on_step_end (synchronizing CUDA), so start-up and warm-up are not counted. The Trainer's
    own train_samples_per_second, which counts them, is reported beside as trainer_samples_per_second.
  eval: Trainer.evaluate at per_device_eval_batch_size 64 over --eval-samples reviews (default 64 x
    max-steps, the subset bench_train --arm eval --steps N takes), with an accuracy metric so the logits
    are gathered as bench_train's evaluation does; one untimed pass first (with --warmup-steps > 0), then
    one timed pass. The Trainer keeps the file order (bench_train sorts by length to pad less);
    --eval-sort-by-length sorts the same way, to separate that from the rest.
Prints one JSON line: samples/s of the timed part, real tokens/s, the final loss, peak RSS of this
process and (on CUDA) the peak GPU memory PyTorch allocated after warm-up, and what it ran on.

Runs on both pinned stacks (docs/hf-interop.md): today's, scripts/python-env.sh current -> .venv
(PyTorch 2.11, transformers 5.24, PEFT 0.21.2: SDPA attention as transformers defaults, the tokenizers-backed
BertTokenizer, adamw_torch_fused) and the study's, scripts/python-env.sh seed -> .venv-seed (Debian's torch
1.13, transformers 4.28.1, PEFT 0.3.0, accelerate 0.19.0: eager attention, BertTokenizerFast, adamw_hf).
Differences are found by looking (TrainingArguments' fields, the tokenizers package), not by version numbers;
the JSON line says which attention, tokenizer (and whether fast), optimizer and versions ran.
"""
import argparse
import csv
import dataclasses
import importlib.util
import json
import resource
import sys
import time

SEED = 42
MAX_LENGTH = 128
TRAIN_BATCH = 32
EVAL_BATCH = 64


class _MT19937_64:
    """std::mt19937_64 (its output sequence is fixed by the C++ standard), for bench_train's subsets."""

    _N, _M, _MASK = 312, 156, (1 << 64) - 1
    _UPPER, _LOWER = 0xFFFFFFFF80000000, 0x7FFFFFFF

    def __init__(self, seed):
        mt = [seed & self._MASK]
        for i in range(1, self._N):
            mt.append((6364136223846793005 * (mt[-1] ^ (mt[-1] >> 62)) + i) & self._MASK)
        self._mt, self._i = mt, self._N

    def _twist(self):
        mt, n, m = self._mt, self._N, self._M
        for i in range(n):
            x = (mt[i] & self._UPPER) | (mt[(i + 1) % n] & self._LOWER)
            y = x >> 1
            if x & 1:
                y ^= 0xB5026F5AA96619E9
            mt[i] = mt[(i + m) % n] ^ y
        self._i = 0

    def __call__(self):
        if self._i >= self._N:
            self._twist()
        y = self._mt[self._i]
        self._i += 1
        y ^= (y >> 29) & 0x5555555555555555
        y ^= (y << 17) & 0x71D67FFFEDA60000
        y ^= (y << 37) & 0xFFF7EEE000000000
        y ^= y >> 43
        return y & self._MASK


def subset_indices(n, k, seed=SEED):
    """ft::sample_without_replacement (src/core/random.*): the first k of a Fisher-Yates shuffle of
    [0, n) drawn with mt19937_64 and Lemire's unbiased bounded integers, sorted (file order)."""
    if k >= n:
        return list(range(n))
    rng, idx = _MT19937_64(seed), list(range(n))

    def below(bound):
        product = rng() * bound
        lo = product & ((1 << 64) - 1)
        if lo < bound:
            threshold = ((1 << 64) - bound) % bound
            while lo < threshold:
                product = rng() * bound
                lo = product & ((1 << 64) - 1)
        return product >> 64

    for i in range(k):
        if i + 1 >= n:
            break
        j = i + below(n - i)
        idx[i], idx[j] = idx[j], idx[i]
    return sorted(idx[:k])


def read_nsmc(path, n):
    """n reviews of an NSMC file (id, document, label; a header), the subset bench_train takes."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    rows = [rows[i] for i in subset_indices(len(rows), n)]
    return [r[1] for r in rows], [int(r[2]) for r in rows]


def training_arguments(TrainingArguments, **kw):
    """TrainingArguments from the fields this version has: use_cpu (4.34+) or no_cuda (older) for the
    CPU; anything else it lacks is an error rather than silently dropped."""
    fields = {f.name for f in dataclasses.fields(TrainingArguments)}
    if kw.pop("cpu", False):
        kw["use_cpu" if "use_cpu" in fields else "no_cuda"] = True
    unknown = sorted(set(kw) - fields)
    if unknown:
        raise SystemExit(f"hf_reference: this transformers' TrainingArguments has no {', '.join(unknown)}")
    return TrainingArguments(**kw)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a model directory: config.json, vocab.txt, tokenizer_config.json")
    ap.add_argument("--train-file", required=True, help="NSMC-format TSV (id, document, label)")
    ap.add_argument("--eval-file", help="the reviews of --arm eval (default: --train-file)")
    ap.add_argument("--arm", choices=["full", "lora", "eval"], required=True)
    ap.add_argument("--max-steps", type=int, default=500, help="timed training steps (eval: sets the default --eval-samples)")
    ap.add_argument("--warmup-steps", type=int, default=1,
                    help="untimed training steps before them (eval: > 0 means one untimed pass); bench_train's --warmup")
    ap.add_argument("--train-samples", type=int, help="reviews to train on (default 32 x max(max-steps, warmup-steps))")
    ap.add_argument("--eval-samples", type=int, help="reviews to evaluate (default 64 x max-steps)")
    ap.add_argument("--eval-sort-by-length", action="store_true", help="evaluate longest first, as bench_train does")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: PyTorch's default)")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--random-init", action="store_true", help="random weights from config.json (no weights needed)")
    ap.add_argument("--fp16", action="store_true")
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--attn-implementation", help="passed to from_config/from_pretrained (transformers 4.36+); default: the library's")
    ap.add_argument("--optim", help="TrainingArguments.optim (default: the library's: adamw_hf in 4.28, adamw_torch[_fused] in 5.x)")
    ap.add_argument("--output-dir", default="/tmp/hf_reference")
    a = ap.parse_args()
    if a.max_steps <= 0 or a.warmup_steps < 0:
        ap.error("--max-steps must be > 0 and --warmup-steps >= 0")
    if a.fp16 and a.bf16:
        ap.error("--fp16 or --bf16, not both")

    import torch

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    import transformers
    from transformers import (AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,
                              PrinterCallback, Trainer, TrainerCallback, TrainingArguments, set_seed)

    cuda = torch.cuda.is_available() and a.device != "cpu"
    if a.device == "cuda" and not cuda:
        raise SystemExit("hf_reference: --device cuda but torch sees no CUDA device")
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    set_seed(SEED)
    # Both stacks have the tokenizers package (AutoTokenizer gives the Rust-backed tokenizer); a transformers
    # 4.x without it would need to be told to take the Python BertTokenizer. transformers 5 ignores use_fast.
    have_tokenizers = importlib.util.find_spec("tokenizers") is not None
    tok = AutoTokenizer.from_pretrained(a.model, **({} if have_tokenizers else {"use_fast": False}))

    training = a.arm != "eval"
    if training:
        n = a.train_samples or TRAIN_BATCH * max(a.max_steps, a.warmup_steps)
        path = a.train_file
    else:
        n = a.eval_samples or EVAL_BATCH * a.max_steps
        path = a.eval_file or a.train_file
    texts, labels = read_nsmc(path, n)
    enc = tok(texts, truncation=True, max_length=MAX_LENGTH)
    data = [{"input_ids": i, "attention_mask": m, "labels": y}
            for i, m, y in zip(enc["input_ids"], enc["attention_mask"], labels)]
    if not training and a.eval_sort_by_length:
        data.sort(key=lambda d: -len(d["input_ids"]))  # stable, like bench_train's std::stable_sort
    lengths = [len(d["input_ids"]) for d in data]

    model_kw = {"num_labels": 2}
    if a.attn_implementation:
        model_kw["attn_implementation"] = a.attn_implementation
    if a.random_init:
        config = AutoConfig.from_pretrained(a.model, num_labels=2)
        model = AutoModelForSequenceClassification.from_config(config, **{k: v for k, v in model_kw.items() if k != "num_labels"})
    else:
        model = AutoModelForSequenceClassification.from_pretrained(a.model, **model_kw)
    attn = getattr(model.config, "_attn_implementation", None) or "eager"  # 4.28 has only the eager one
    lr = 2e-5
    if a.arm == "lora":
        from peft import LoraConfig, TaskType, get_peft_model

        model = get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, r=8, lora_alpha=32, lora_dropout=0.1,
                                                 target_modules=["query", "value"]))
        lr = 2e-4
    collator = DataCollatorWithPadding(tok)

    def args_for(max_steps):
        kw = dict(output_dir=a.output_dir, per_device_train_batch_size=TRAIN_BATCH, per_device_eval_batch_size=EVAL_BATCH,
                  learning_rate=lr, max_steps=max_steps, fp16=a.fp16, bf16=a.bf16, seed=SEED, logging_steps=1_000_000,
                  save_strategy="no", report_to=[], disable_tqdm=True, cpu=a.device == "cpu")
        if a.optim:
            kw["optim"] = a.optim
        return training_arguments(TrainingArguments, **kw)

    def make_trainer(**kw):
        t = Trainer(model=model, data_collator=collator, **kw)
        t.remove_callback(PrinterCallback)  # with disable_tqdm it prints every log dict to stdout: one JSON line only
        return t

    out = {"impl": "hf", "arm": a.arm}
    if training:
        class StepClock(TrainerCallback):
            """Wall time from the start of the training loop to the end of its last optimizer step."""

            def on_train_begin(self, args, state, control, **kw):
                sync()
                self.start = self.end = time.perf_counter()

            def on_step_end(self, args, state, control, **kw):
                sync()
                self.end = time.perf_counter()

        if a.warmup_steps > 0:
            make_trainer(args=args_for(a.warmup_steps), train_dataset=data).train()
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        clock = StepClock()
        trainer = make_trainer(args=args_for(a.max_steps), train_dataset=data, callbacks=[clock])
        result = trainer.train()
        metrics = result.metrics
        seconds = clock.end - clock.start
        # The batches the timed steps took (an epoch ends with a short one), and their tokens: exact with the
        # default --train-samples, where the timed steps are one epoch; otherwise at the mean length.
        batches = [TRAIN_BATCH] * (len(data) // TRAIN_BATCH) + ([len(data) % TRAIN_BATCH] if len(data) % TRAIN_BATCH else [])
        samples = sum(batches[i % len(batches)] for i in range(result.global_step))
        real_tokens = sum(lengths) * samples / len(data)
        out.update({"steps": result.global_step, "warmup_steps": a.warmup_steps, "train_samples": len(data),
                    "final_loss": metrics["train_loss"], "optim": getattr(trainer.args.optim, "value", trainer.args.optim),
                    "trainer_samples_per_second": metrics["train_samples_per_second"],
                    "trainer_runtime_s": metrics["train_runtime"]})
    else:
        def accuracy(p):
            logits = p.predictions[0] if isinstance(p.predictions, tuple) else p.predictions
            return {"accuracy": float((logits.argmax(-1) == p.label_ids).mean())}

        trainer = make_trainer(args=args_for(1), compute_metrics=accuracy)
        if a.warmup_steps > 0:
            trainer.evaluate(eval_dataset=data)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        sync()
        start = time.perf_counter()
        metrics = trainer.evaluate(eval_dataset=data)
        sync()
        seconds = time.perf_counter() - start
        samples, real_tokens = len(data), sum(lengths)
        out.update({"eval_samples": len(data), "eval_order": "length" if a.eval_sort_by_length else "file",
                    "eval_loss": metrics["eval_loss"], "eval_accuracy": metrics.get("eval_accuracy"),
                    "trainer_samples_per_second": metrics.get("eval_samples_per_second")})

    def version(name):
        try:
            return __import__(name).__version__
        except Exception:
            return None

    out.update({
        "samples": samples, "seconds": seconds, "samples_per_second": samples / seconds,
        "real_tokens": int(round(real_tokens)), "real_tokens_per_second": real_tokens / seconds,
        "mean_tokens_per_sample": sum(lengths) / len(lengths),
        "global_batch": TRAIN_BATCH if training else EVAL_BATCH, "max_length": MAX_LENGTH,
        "precision": "fp16" if a.fp16 else "bf16" if a.bf16 else "fp32", "fp16": a.fp16,
        "device": torch.cuda.get_device_name(0) if cuda else "cpu", "threads": torch.get_num_threads(),
        "attn_implementation": attn, "tokenizer": type(tok).__name__, "tokenizer_fast": bool(tok.is_fast),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "peak_gpu_allocated_bytes": torch.cuda.max_memory_allocated() if cuda else None,
        "torch": torch.__version__, "transformers": transformers.__version__, "peft": version("peft"),
        "accelerate": version("accelerate"), "python": sys.version.split()[0],
    })
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
