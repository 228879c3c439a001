#!/usr/bin/env python3
"""Checks that Hugging Face transformers and PEFT load what finetune.cpp writes, and agree with it.

  check_hf_interop.py --finetune build/finetune --model DIR [--adapter DIR] --input FILE [FILE ...]
                      [--check ids,logits] [--tokenizer DIR] [--max-length N] [--atol X] [--require-fast]

  ids:    `finetune tokenize` against AutoTokenizer.from_pretrained(--tokenizer, default --model), text by
          text, every id exactly (truncated to --max-length; 0: no truncation). An input file is a TSV with
          a header when its first line has a TAB (the text in --column, default `document`: NSMC's
          ratings_*.txt), else one text a line, exactly as `finetune tokenize` reads it. --require-fast
          fails unless AutoTokenizer gave the Rust-backed (tokenizers) one.
  logits: `finetune predict --json --device cpu` (with --adapter: base + adapter) against
          AutoModelForSequenceClassification.from_pretrained(--model) (+ PeftModel.from_pretrained(adapter)),
          float32 on the CPU, eval mode, batches of 32 padded as the tokenizer pads; max |ours - HF| <= --atol
          (default 1e-5; 1e-4 through PeftModel).
          Text files only (one text a line).

Runs on today's stack (transformers 5, PEFT 0.2x) and on the study's (transformers 4.28, PEFT 0.3.0).
PEFT before 0.4 reads only adapter_model.bin. finetune writes it beside adapter_model.safetensors; for an
adapter directory without one (older finetune builds, other tools) the tensors are copied, unchanged and
under the same keys, into adapter_model.bin in a temporary copy of the directory (torch.save), and the
output says so; with --strict-adapter (the tests) its absence is a failure instead.

Prints what it compared and, last, one line 'HF-INTEROP PASS: ...' or 'HF-INTEROP FAIL: ...'; exits 1 on
any failure (a mismatch, a finetune error, a library that cannot load the files).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


class Failure(Exception):
    pass


def run_finetune(binary, args):
    proc = subprocess.run([binary] + args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise Failure(f"finetune {' '.join(args)} exited {proc.returncode}:\n{proc.stderr.strip()}")
    return proc.stdout


def read_texts(path, column):
    """The texts of a file as finetune reads them (data::read_text_column): a TSV with a header when the
    first line has a TAB (fields split on TAB only, quotes are text), else one text a line."""
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    if not lines or "\t" not in lines[0]:
        return lines
    header = lines[0].split("\t")
    if column not in header:
        raise Failure(f"{path}: no column {column!r} in its header {header}")
    c = header.index(column)
    return [line.split("\t")[c] for line in lines[1:] if line != ""]


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def versions():
    import torch
    import transformers
    out = f"torch {torch.__version__}, transformers {transformers.__version__}"
    try:
        import peft
        out += f", peft {peft.__version__}"
    except ImportError:
        pass
    try:
        import tokenizers
        out += f", tokenizers {tokenizers.__version__}"
    except ImportError:
        pass
    return out


def check_ids(a, paths):
    from transformers import AutoTokenizer

    tok_dir = a.tokenizer or a.model
    t0 = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(tok_dir)
    kind = f"{type(tokenizer).__name__} ({'fast, tokenizers' if tokenizer.is_fast else 'slow, Python'})"
    if a.require_fast and not tokenizer.is_fast:
        raise Failure(f"AutoTokenizer.from_pretrained({tok_dir}) gave {kind}, not the Rust-backed tokenizer")
    total, bad, ours_s, hf_s = 0, 0, 0.0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            texts = read_texts(path, a.column)
            out = os.path.join(tmp, "ids.jsonl")
            t = time.perf_counter()
            run_finetune(a.finetune, ["tokenize", "--tokenizer", tok_dir, "--input", path, "--column", a.column,
                                      "--output", out, "--max-length", str(a.max_length)])
            ours = [r["input_ids"] for r in read_jsonl(out)]
            ours_s += time.perf_counter() - t
            t = time.perf_counter()
            kw = {"truncation": True, "max_length": a.max_length} if a.max_length > 0 else {}
            theirs = []
            for start in range(0, len(texts), 10000):
                theirs += tokenizer(texts[start:start + 10000], **kw)["input_ids"]
            hf_s += time.perf_counter() - t
            if len(ours) != len(theirs):
                raise Failure(f"{path}: finetune tokenize wrote {len(ours)} rows, the file has {len(theirs)} texts")
            mismatch = [i for i, (x, y) in enumerate(zip(ours, theirs)) if x != y]
            print(f"ids {path}: {len(texts) - len(mismatch)}/{len(texts)} texts identical")
            for i in mismatch[:5]:
                print(f"  text {i + 1} {texts[i]!r}:\n    ours {ours[i]}\n    HF   {theirs[i]}")
            total += len(texts)
            bad += len(mismatch)
    elapsed = time.perf_counter() - t0
    print(f"ids: {kind}; finetune tokenize {ours_s:.1f} s, HF {hf_s:.1f} s, {elapsed:.1f} s in all")
    return bad == 0, f"ids {total - bad}/{total} identical ({kind}, {elapsed:.1f} s)"


def peft_adapter_dir(adapter, tmp, strict):
    """The adapter directory PEFT can read: PEFT < 0.4 reads only adapter_model.bin (safetensors came with
    huggingface/peft#553, in 0.4.0)."""
    import peft
    from packaging.version import Version

    if Version(peft.__version__) >= Version("0.4") or os.path.exists(os.path.join(adapter, "adapter_model.bin")):
        return adapter, ""
    if strict:
        raise Failure(f"{adapter}: no adapter_model.bin, the only file PEFT {peft.__version__} reads (--strict-adapter)")
    import torch
    from safetensors.torch import load_file

    copy = os.path.join(tmp, "adapter")
    os.makedirs(copy)
    shutil.copy(os.path.join(adapter, "adapter_config.json"), copy)
    torch.save(load_file(os.path.join(adapter, "adapter_model.safetensors")), os.path.join(copy, "adapter_model.bin"))
    return copy, f" (PEFT {peft.__version__} reads only adapter_model.bin: finetune's safetensors copied into one)"


def check_logits(a, paths):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    torch.set_num_threads(1)  # a tiny model; more threads only contend on a loaded machine
    try:  # transformers 5 draws a progress bar while loading weights
        transformers_logging.disable_progress_bar()
    except AttributeError:
        pass
    texts = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            first = f.readline()
        if "\t" in first:
            raise Failure(f"{path}: --check logits takes text files (one text a line), not a TSV")
        texts += read_texts(path, a.column)
    text_file = paths[0]
    with tempfile.TemporaryDirectory() as tmp:
        if len(paths) > 1:
            text_file = os.path.join(tmp, "texts.txt")
            with open(text_file, "w", encoding="utf-8") as f:
                f.write("".join(t + "\n" for t in texts))
        predict = ["predict", "--model", a.model, "--input", text_file, "--json", "--device", "cpu",
                   "--max-length", str(a.max_length or 128)]
        if a.tokenizer:
            predict += ["--tokenizer", a.tokenizer]
        if a.adapter:
            predict += ["--adapter", a.adapter]
        rows = [json.loads(line) for line in run_finetune(a.finetune, predict).splitlines() if line.strip()]
        ours = torch.tensor([r["logits"] for r in rows], dtype=torch.float64)
        if len(rows) != len(texts):
            raise Failure(f"finetune predict gave {len(rows)} rows for {len(texts)} texts")

        tokenizer = AutoTokenizer.from_pretrained(a.tokenizer or a.model)
        model = AutoModelForSequenceClassification.from_pretrained(a.model)
        note = ""
        if a.adapter:
            from peft import PeftModel
            adapter, note = peft_adapter_dir(a.adapter, tmp, a.strict_adapter)
            model = PeftModel.from_pretrained(model, adapter)
        model.eval()
        theirs = []
        with torch.no_grad():
            for start in range(0, len(texts), 32):
                enc = tokenizer(texts[start:start + 32], truncation=True, max_length=a.max_length or 128, padding=True,
                                return_tensors="pt")
                theirs.append(model(**enc).logits.double())
    theirs = torch.cat(theirs)
    if ours.shape != theirs.shape:
        raise Failure(f"logits: ours {tuple(ours.shape)}, HF {tuple(theirs.shape)}")
    diff = (ours - theirs).abs()
    worst = diff.max().item()
    agree = (ours.argmax(-1) == theirs.argmax(-1)).double().mean().item()
    what = f"{a.model}" + (f" + PeftModel({a.adapter})" if a.adapter else "")
    print(f"logits {what}{note}: {len(texts)} texts, max |ours - HF| = {worst:.3g} (atol {a.atol:g}), "
          f"mean {diff.mean().item():.3g}, same label for {agree:.2%}, |logit| up to {theirs.abs().max().item():.3g}")
    return worst <= a.atol, f"logits max |diff| {worst:.3g} <= {a.atol:g}" if worst <= a.atol else \
        f"logits max |diff| {worst:.3g} > atol {a.atol:g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--finetune", required=True, help="the finetune binary")
    ap.add_argument("--model", help="a model directory written by finetune (train, merge, pretrain)")
    ap.add_argument("--adapter", help="a PEFT adapter directory written by finetune train --method lora")
    ap.add_argument("--tokenizer", help="tokenizer directory (default: --model)")
    ap.add_argument("--input", required=True, nargs="+", help="text files (one text a line) or TSVs with a header")
    ap.add_argument("--column", default="document", help="a TSV's text column (default: document)")
    ap.add_argument("--check", default="ids,logits", help="ids, logits or both (default: ids,logits)")
    ap.add_argument("--max-length", type=int, default=128, help="truncation, [CLS]/[SEP] included (ids: 0 = none)")
    ap.add_argument("--atol", type=float, help="largest |ours - HF| logit allowed (default 1e-5; 1e-4 with --adapter)")
    ap.add_argument("--require-fast", action="store_true", help="fail unless AutoTokenizer is the Rust-backed one")
    ap.add_argument("--strict-adapter", action="store_true",
                    help="PEFT < 0.4 without adapter_model.bin is a failure, not a conversion")
    ap.add_argument("--name", default="", help="a name for the closing line")
    a = ap.parse_args()
    if a.atol is None:
        a.atol = 1e-4 if a.adapter else 1e-5
    checks = [c for c in a.check.split(",") if c]
    if not checks or set(checks) - {"ids", "logits"}:
        ap.error("--check takes ids, logits or ids,logits")
    if not a.model and not (checks == ["ids"] and a.tokenizer):
        ap.error("--model is required (or --check ids with --tokenizer)")
    name = f" {a.name}" if a.name else ""
    results = []
    try:
        print(f"stack: python {sys.version.split()[0]}, {versions()}")
        for c in checks:
            results.append((check_ids if c == "ids" else check_logits)(a, a.input))
    except Failure as e:
        print(str(e))
        results.append((False, str(e).splitlines()[0]))
    except Exception as e:  # a library that cannot load the files is a failed check, not a crash
        import traceback
        traceback.print_exc(file=sys.stdout)
        results.append((False, f"{type(e).__name__}: {e}".splitlines()[0]))
    ok = all(r[0] for r in results)
    print(f"HF-INTEROP {'PASS' if ok else 'FAIL'}{name}: " + "; ".join(r[1] for r in results))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
