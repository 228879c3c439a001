#!/usr/bin/env python3
"""Writes every Hugging Face golden the C++ tests read (tests/data/hf-tiny/, tests/data/tokenizer/) from the
Python stack it runs on, and optionally compares them with committed ones.

  make-goldens.py OUT [--from tests/data] [--nsmc-test data/nsmc/ratings_test.txt] [--compare tests/data]
  make-goldens.py OUT --fresh [--seed 1234] ...      new random weights, inputs and adapter (not the committed)

OUT gets the layout of tests/data: OUT/hf-tiny/{config.json, model.safetensors, inputs.safetensors,
outputs.safetensors, grads.safetensors, params_after_adamw_step.safetensors, lora/...} and
OUT/tokenizer/{nsmc_test.klue.jsonl.gz, nsmc_test500.synthetic.jsonl, edge_cases.*.jsonl, + the inputs
edge_cases.tsv and synthetic_vocab.txt}. The recipe is the one tests/data/README.md and
../shared/goldens/README.md describe (transformers 4.28 + PEFT 0.3.0 on torch 1.13 made the committed files):

  model    RobertaForSequenceClassification(config) in fp32 on the CPU: vocab 1000, hidden 64, 2 layers, 4 heads,
           intermediate 128, 66 positions, pad 1, erf GELU, 2 labels; HF's init under torch.manual_seed(SEED)
           plus N(0, 0.1^2) noise on every parameter. The committed weights' init is exactly seed 1234's, but the
           generator their noise came from was not recorded, so by default the random tensors -- the weights,
           the batch of inputs, and the adapter's A and B -- are taken from --from (tests/data) and everything
           else is recomputed from them; --fresh draws all of them anew (noise from torch.Generator seeded SEED+1).
  outputs  eval mode: logits, loss (shape [1]), hidden_states.0-2 (output_hidden_states).
  grads    eval mode (no dropout), d mean-cross-entropy / d each of the 41 parameters.
  adamw    torch.optim.AdamW(lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0.01) one step from those.
  lora     get_peft_model(LoraConfig(SEQ_CLS, r 8, alpha 32, dropout 0.1, query+value)); A as PEFT draws it,
           B from N(0, 0.05^2) (or both from --from); saved by PEFT's save_pretrained as adapter_model.bin
           (safe_serialization=False on PEFT >= 0.4) and as adapter_model.safetensors; outputs and the 12
           trained tensors' gradients keyed by adapter key.
  ids      BertTokenizer.from_pretrained (slow where the stack has one, use_fast=False; transformers 5 has only
           the tokenizers-backed class) with do_lower_case False, strip_accents None, tokenize_chinese_chars,
           no truncation: NSMC's 50,000 test rows with klue/roberta-base's vocab (gzip, mtime 0), the first 500
           with synthetic_vocab.txt, the 20 edge cases with both (with "tokens").

--compare DIR compares each file with DIR's: integer tensors, ids and JSON exactly (JSON minus the version
stamps transformers_version/peft_version; keys only one side has are listed, and fail unless
--allow-extra-keys), float tensors within atol + rtol*|committed|: weights and adapter tensors 0 (copies),
activations 1e-5 + 1e-4, gradients 1e-6 + 1e-4, the AdamW step 1e-6 except where the committed gradient is
below 1e-5 in size (there AdamW's first step, lr*g/(|g|+eps), turns gradient noise into up to 2*lr: 2.1e-3).
It prints the largest difference per file and ends with 'HF-GOLDENS PASS ...' or 'HF-GOLDENS FAIL ...'
(exit 1).
"""
import argparse
import gzip
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CONFIG = {
    "architectures": ["RobertaForSequenceClassification"], "attention_probs_dropout_prob": 0.1, "bos_token_id": 0,
    "classifier_dropout": None, "eos_token_id": 2, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
    "hidden_size": 64, "initializer_range": 0.02, "intermediate_size": 128, "layer_norm_eps": 1e-05,
    "max_position_embeddings": 66, "model_type": "roberta", "num_attention_heads": 4, "num_hidden_layers": 2,
    "pad_token_id": 1, "position_embedding_type": "absolute", "type_vocab_size": 1, "use_cache": True,
    "vocab_size": 1000,
}
LENGTHS = (20, 13, 7, 17)
LABELS = (0, 1, 1, 0)
LORA = dict(r=8, lora_alpha=32, lora_dropout=0.1, target_modules=["query", "value"])
TOKENIZER_SETTINGS = dict(do_lower_case=False, strip_accents=None, tokenize_chinese_chars=True)
VERSION_KEYS = {"transformers_version", "peft_version"}
# Metadata, not settings: PEFT takes it from the model's name_or_path, which transformers 5 leaves None
# for a model made from a config (4.28: "").
METADATA_KEYS = {"base_model_name_or_path"}
# Spelled differently, meaning the same: PEFT 0.21 writes SEQ_CLS's default modules_to_save, which PEFT
# 0.3.0 left null and applied at load time all the same.
EQUIVALENT = {"modules_to_save": (None, ["classifier", "score"])}
# Sets that JSON writes as lists: PEFT 0.21 keeps target_modules as a Python set, whose order changes from
# run to run (string hashing); compared as sets.
SET_KEYS = {"target_modules"}


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------------------------------------- writing


def versions():
    import tokenizers  # noqa: F401 -- transformers needs it on every stack this runs on
    import peft
    import torch
    import transformers
    return (f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}, "
            f"tokenizers {tokenizers.__version__}")


def save_tensors(path, tensors):
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in tensors.items()}, path, metadata={"format": "pt"})


def make_model(config_dict, state, seed, fresh):
    import torch
    from transformers import RobertaConfig, RobertaForSequenceClassification

    config = RobertaConfig(**{k: v for k, v in config_dict.items() if k != "architectures"})
    config.architectures = ["RobertaForSequenceClassification"]
    torch.manual_seed(seed)
    model = RobertaForSequenceClassification(config).float()
    if fresh:
        g = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            for _, p in model.named_parameters():
                p.add_(torch.randn(p.shape, generator=g) * 0.1)
    else:
        missing, unexpected = model.load_state_dict({k: v for k, v in state.items()
                                                     if k in model.state_dict()}, strict=False)
        missing = [k for k in missing if not k.endswith("position_ids")]
        if missing:
            raise SystemExit(f"make-goldens: the weights lack {missing}")
    return model


def full_state_dict(model):
    """The model's state dict as the committed checkpoint has it: with the int64 buffer
    roberta.embeddings.position_ids [1, 66] that transformers < 4.31 saved (later ones keep it out of the
    state dict), since the C++ tests check that such a buffer is accepted and ignored."""
    import torch
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    key = "roberta.embeddings.position_ids"
    if key not in sd:
        sd[key] = torch.arange(model.config.max_position_embeddings, dtype=torch.int64)[None]
    return sd


def make_inputs(seed):
    import torch
    g = torch.Generator().manual_seed(seed + 2)
    ids = torch.full((len(LENGTHS), max(LENGTHS)), 1, dtype=torch.int64)
    for i, n in enumerate(LENGTHS):
        ids[i, 0], ids[i, n - 1] = 0, 2
        ids[i, 1:n - 1] = torch.randint(5, CONFIG["vocab_size"], (n - 2,), generator=g)
    return ids


def roberta_inputs(input_ids):
    import torch
    mask = (input_ids != CONFIG["pad_token_id"]).long()
    position_ids = torch.cumsum(mask, dim=1) * mask + CONFIG["pad_token_id"]
    return {"input_ids": input_ids, "attention_mask": mask, "labels": torch.tensor(LABELS, dtype=torch.int64),
            "position_ids": position_ids}


def run_outputs(model, inputs):
    out = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], labels=inputs["labels"],
                output_hidden_states=True)
    tensors = {"logits": out.logits.detach().clone(), "loss": out.loss.detach().reshape(1).clone()}
    for i, h in enumerate(out.hidden_states):
        tensors[f"hidden_states.{i}"] = h.detach().clone()
    return out.loss, tensors


def write_hf_tiny(out, a):
    import torch

    src = os.path.join(a.source, "hf-tiny")
    torch.set_num_threads(1)
    from safetensors.torch import load_file

    state = None if a.fresh else load_file(os.path.join(src, "model.safetensors"))
    model = make_model(CONFIG, state, a.seed, a.fresh)
    dst = os.path.join(out, "hf-tiny")
    os.makedirs(os.path.join(dst, "lora", "peft_adapter"), exist_ok=True)
    model.config.to_json_file(os.path.join(dst, "config.json"))
    save_tensors(os.path.join(dst, "model.safetensors"), full_state_dict(model))
    inputs = roberta_inputs(make_inputs(a.seed) if a.fresh else load_file(os.path.join(src, "inputs.safetensors"))["input_ids"])
    save_tensors(os.path.join(dst, "inputs.safetensors"), inputs)

    model.eval()
    loss, outputs = run_outputs(model, inputs)
    save_tensors(os.path.join(dst, "outputs.safetensors"), outputs)
    loss.backward()
    params = dict(model.named_parameters())
    save_tensors(os.path.join(dst, "grads.safetensors"), {k: p.grad.detach().clone() for k, p in params.items()})
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    opt.step()
    save_tensors(os.path.join(dst, "params_after_adamw_step.safetensors"),
                 {k: p.detach().clone() for k, p in params.items()})
    log(f"hf-tiny: model ({sum(p.numel() for p in params.values()):,} parameters), inputs, outputs, grads, AdamW step")

    # LoRA on the same base weights (a fresh copy: the AdamW step above moved these).
    write_lora(dst, make_model(CONFIG, state if not a.fresh else full_state_dict_from(dst), a.seed, False),
               inputs, None if a.fresh else load_file(os.path.join(src, "lora", "adapter_model.safetensors")), a.seed)


def full_state_dict_from(dst):
    from safetensors.torch import load_file
    return load_file(os.path.join(dst, "model.safetensors"))


def write_lora(dst, model, inputs, adapter, seed):
    import peft
    import torch
    from packaging.version import Version
    from peft import LoraConfig, TaskType, get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict

    torch.manual_seed(seed + 3)
    pm = get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, **LORA))
    if adapter is None:  # fresh: PEFT's A, B drawn from N(0, 0.05^2)
        g = torch.Generator().manual_seed(seed + 4)
        with torch.no_grad():
            for n, p in pm.named_parameters():
                if "lora_B" in n:
                    p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    else:
        set_peft_model_state_dict(pm, adapter)
    lora = os.path.join(dst, "lora")
    peft_dir = os.path.join(lora, "peft_adapter")
    kw = {"safe_serialization": False} if Version(peft.__version__) >= Version("0.4") else {}
    with tempfile.TemporaryDirectory() as tmp:
        pm.save_pretrained(tmp, **kw)
        for f in ("adapter_config.json", "adapter_model.bin"):
            shutil.copy(os.path.join(tmp, f), peft_dir)
    state = {k: v.detach().clone() for k, v in get_peft_model_state_dict(pm).items()}
    save_tensors(os.path.join(lora, "adapter_model.safetensors"), state)

    pm.eval()
    loss, outputs = run_outputs(pm, inputs)
    save_tensors(os.path.join(lora, "outputs.safetensors"), outputs)
    loss.backward()
    grads = {}
    for n, p in pm.named_parameters():
        if "lora_" in n:
            key = n.replace(".default", "")
        elif ".modules_to_save.default." in n:
            key = n.replace(".modules_to_save.default", "")
        else:
            continue
        grads[key] = p.grad.detach().clone()
    if sorted(grads) != sorted(state):
        raise SystemExit(f"make-goldens: gradient keys {sorted(set(grads) ^ set(state))} do not match the adapter's")
    save_tensors(os.path.join(lora, "grads.safetensors"), grads)
    log(f"hf-tiny/lora: adapter ({len(state)} tensors, {sum(v.numel() for v in state.values()):,} values), outputs, grads")


def bert_tokenizer(vocab_file, tmp):
    """BertTokenizer.from_pretrained over a folder holding this vocab and the golden's settings."""
    from transformers import AutoTokenizer

    d = tempfile.mkdtemp(dir=tmp)
    shutil.copy(vocab_file, os.path.join(d, "vocab.txt"))
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({**TOKENIZER_SETTINGS, "tokenizer_class": "BertTokenizer", "model_max_length": 512}, f)
    tok = AutoTokenizer.from_pretrained(d, use_fast=False)
    tok.model_max_length = 10 ** 9  # no truncation, and no over-length warning
    return tok


def read_tsv(path):
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    header = lines[0].split("\t")
    c = {name: header.index(name) for name in ("id", "document", "label")}
    rows = []
    for line in lines[1:]:
        if line:
            fields = line.split("\t")
            rows.append({k: fields[i] for k, i in c.items()})
    return rows


def encode_rows(tok, rows, tokens=False):
    out = []
    ids = tok([r["document"] for r in rows])["input_ids"] if tok.is_fast else [tok(r["document"])["input_ids"] for r in rows]
    for r, i in zip(rows, ids):
        row = {"id": r["id"], "label": r["label"], "input_ids": i}
        if tokens:
            row["tokens"] = tok.convert_ids_to_tokens(i)
        out.append(json.dumps(row, ensure_ascii=False) + "\n")
    return "".join(out)


def write_tokenizer(out, a):
    src = os.path.join(a.source, "tokenizer")
    dst = os.path.join(out, "tokenizer")
    os.makedirs(dst, exist_ok=True)
    for f in ("edge_cases.tsv", "synthetic_vocab.txt"):  # inputs, copied
        shutil.copy(os.path.join(src, f), dst)
    with tempfile.TemporaryDirectory() as tmp:
        klue = bert_tokenizer(a.klue_vocab, tmp)
        synthetic = bert_tokenizer(os.path.join(src, "synthetic_vocab.txt"), tmp)
        kind = f"{type(klue).__name__} ({'tokenizers' if klue.is_fast else 'slow, Python'})"
        edge = read_tsv(os.path.join(src, "edge_cases.tsv"))
        for name, tok in (("klue", klue), ("synthetic", synthetic)):
            with open(os.path.join(dst, f"edge_cases.{name}.jsonl"), "w", encoding="utf-8") as f:
                f.write(encode_rows(tok, edge, tokens=True))
        if not os.path.exists(a.nsmc_test):
            raise SystemExit(f"make-goldens: no {a.nsmc_test} (scripts/get-data.sh puts NSMC in data/nsmc/)")
        test = read_tsv(a.nsmc_test)
        t = time.perf_counter()
        text = encode_rows(klue, test)
        seconds = time.perf_counter() - t
        with open(os.path.join(dst, "nsmc_test.klue.jsonl.gz"), "wb") as f:
            with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=f, mtime=0) as z:
                z.write(text.encode("utf-8"))
        with open(os.path.join(dst, "nsmc_test500.synthetic.jsonl"), "w", encoding="utf-8") as f:
            f.write(encode_rows(synthetic, test[:500]))
    log(f"tokenizer: {kind}; {len(test):,} NSMC test rows in {seconds:.1f} s, 500 synthetic, {len(edge)} edge cases x 2")


# ---------------------------------------------------------------------------------------------- comparing


class Report:
    def __init__(self):
        self.rows, self.failed = [], []

    def add(self, path, ok, what):
        self.rows.append((path, ok, what))
        if not ok:
            self.failed.append(path)
        log(f"  {'ok  ' if ok else 'FAIL'} {path}: {what}")


def tolerance(rel):
    name = os.path.basename(rel)
    if name in ("model.safetensors", "adapter_model.safetensors", "adapter_model.bin", "inputs.safetensors"):
        return 0.0, 0.0, "copies"
    if name == "grads.safetensors":
        return 1e-6, 1e-4, "gradients"
    if name == "params_after_adamw_step.safetensors":
        return 1e-6, 0.0, "AdamW step"
    return 1e-5, 1e-4, "activations"


def compare_tensors(rep, rel, mine, theirs, grads_of_theirs=None):
    import torch

    atol, rtol, kind = tolerance(rel)
    only = sorted(set(mine) ^ set(theirs))
    if only:
        rep.add(rel, False, f"keys only one side has: {only[:4]}{' ...' if len(only) > 4 else ''}")
        return
    worst, worst_key, bad, loose, rest = 0.0, "", [], 0.0, 0.0
    for k in sorted(theirs):
        x, y = mine[k], theirs[k]
        if x.dtype != y.dtype or x.shape != y.shape:
            bad.append(f"{k}: {x.dtype}{list(x.shape)} vs {y.dtype}{list(y.shape)}")
            continue
        if not y.is_floating_point():
            if not torch.equal(x, y):
                bad.append(f"{k}: integer values differ")
            continue
        d = (x.double() - y.double()).abs()
        limit = atol + rtol * y.double().abs()
        if grads_of_theirs is not None:  # AdamW: a near-zero gradient's sign is noise
            tiny = grads_of_theirs[k].double().abs() < 1e-5
            if tiny.any():
                loose = max(loose, d[tiny].max().item())
            if (~tiny).any():
                rest = max(rest, d[~tiny].max().item())
            limit = torch.where(tiny, torch.full_like(limit, 2.1e-3), limit)
        if d.numel() and d.max().item() > worst:
            worst, worst_key = d.max().item(), k
        if (d > limit).any():
            bad.append(f"{k}: max |diff| {d.max().item():.3g}")
    what = f"{len(theirs)} tensors ({kind}: atol {atol:g}, rtol {rtol:g}), max |diff| {worst:.3g}"
    if worst_key:
        what += f" ({worst_key})"
    if grads_of_theirs is not None:
        what += (f"; elements with |committed grad| >= 1e-5: max |diff| {rest:.3g}, the others (a gradient of"
                 f" noise): {loose:.3g} (limit 2.1e-3)")
    if bad:
        what += "; beyond tolerance: " + "; ".join(bad[:4])
    rep.add(rel, not bad, what)


def json_diff(x, y, path="", allow_extra=False):
    """The differences between two JSON values: (failing, allowed) lists of lines. Version stamps are
    ignored; with allow_extra, keys only the new file has and METADATA_KEYS' values are allowed (listed)."""
    hard, soft = [], []
    if isinstance(x, dict) and isinstance(y, dict):
        for k in sorted(set(x) | set(y)):
            if k in VERSION_KEYS:
                continue
            if k not in y:
                (soft if allow_extra else hard).append(f"{path}{k}: only in the new file ({json.dumps(x[k])[:40]})")
            elif k not in x:
                hard.append(f"{path}{k}: missing from the new file")
            elif k in SET_KEYS and isinstance(x[k], list) and isinstance(y[k], list) and x[k] != y[k] \
                    and sorted(x[k]) == sorted(y[k]):
                soft.append(f"{path}{k}: {json.dumps(x[k])} vs {json.dumps(y[k])} (a set: order only)")
            elif allow_extra and k in METADATA_KEYS:
                if x[k] != y[k]:
                    soft.append(f"{path}{k}: {json.dumps(x[k])} vs {json.dumps(y[k])}")
            elif allow_extra and k in EQUIVALENT and x[k] != y[k] and x[k] in EQUIVALENT[k] and y[k] in EQUIVALENT[k]:
                soft.append(f"{path}{k}: {json.dumps(x[k])} vs {json.dumps(y[k])} (the same for SEQ_CLS)")
            else:
                h, s2 = json_diff(x[k], y[k], f"{path}{k}.", allow_extra)
                hard += h
                soft += s2
        return hard, soft
    if isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        for i, (p, q) in enumerate(zip(x, y)):
            h, s2 = json_diff(p, q, f"{path}{i}.", allow_extra)
            hard += h
            soft += s2
        return hard, soft
    same = x == y and (type(x) == type(y) or isinstance(x, (int, float)) and isinstance(y, (int, float)))
    return ([] if same else [f"{path[:-1]}: {json.dumps(x)[:60]} vs {json.dumps(y)[:60]}"]), []


def compare_jsonl(rep, rel, mine_bytes, theirs_bytes):
    mine = [json.loads(line) for line in mine_bytes.decode("utf-8").splitlines() if line.strip()]
    theirs = [json.loads(line) for line in theirs_bytes.decode("utf-8").splitlines() if line.strip()]
    if len(mine) != len(theirs):
        rep.add(rel, False, f"{len(mine)} rows vs {len(theirs)}")
        return
    diff = [i for i, (x, y) in enumerate(zip(mine, theirs)) if x != y]
    what = f"{len(theirs)} rows, {len(theirs) - len(diff)} identical (ids exact)"
    if mine_bytes == theirs_bytes:
        what += ", byte-identical"
    for i in diff[:3]:
        x, y = mine[i], theirs[i]
        what += f"; row {i} (id {y.get('id')}): {x.get('input_ids')} vs {y.get('input_ids')}"
    rep.add(rel, not diff, what)


def compare(out, ref, allow_extra):
    import torch
    from safetensors.torch import load_file

    rep = Report()
    log(f"compare {out} with {ref}:")
    files = []
    for base in ("hf-tiny", "tokenizer"):
        for dirpath, _, names in os.walk(os.path.join(ref, base)):
            files += [os.path.relpath(os.path.join(dirpath, n), ref) for n in sorted(names)]
    for rel in sorted(files):
        mine, theirs = os.path.join(out, rel), os.path.join(ref, rel)
        if not os.path.exists(mine):
            rep.add(rel, False, "not written")
            continue
        if rel.endswith(".safetensors"):
            grads = None
            if rel.endswith("params_after_adamw_step.safetensors"):
                grads = load_file(os.path.join(ref, os.path.dirname(rel), "grads.safetensors"))
            compare_tensors(rep, rel, load_file(mine), load_file(theirs), grads)
        elif rel.endswith(".bin"):
            compare_tensors(rep, rel, torch.load(mine, map_location="cpu"), torch.load(theirs, map_location="cpu"))
        elif rel.endswith(".json"):
            x, y = json.load(open(mine)), json.load(open(theirs))
            hard, soft = json_diff(x, y, allow_extra=allow_extra)
            what = "; ".join(hard[:5]) if hard else "identical JSON (version stamps aside)" if not soft else \
                "identical but for the allowed differences"
            if soft:
                what += f"; allowed: {'; '.join(soft)}"
            rep.add(rel, not hard, what)
        elif rel.endswith(".jsonl.gz"):
            compare_jsonl(rep, rel, gzip.open(mine).read(), gzip.open(theirs).read())
        elif rel.endswith(".jsonl"):
            compare_jsonl(rep, rel, open(mine, "rb").read(), open(theirs, "rb").read())
        else:  # inputs copied through
            same = open(mine, "rb").read() == open(theirs, "rb").read()
            rep.add(rel, same, "byte-identical (an input)" if same else "bytes differ")
    return rep


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="folder to write (its hf-tiny/ and tokenizer/ are replaced)")
    ap.add_argument("--from", dest="source", default=os.path.join(ROOT, "tests", "data"),
                    help="where the random tensors and the tokenizer inputs come from (default tests/data)")
    ap.add_argument("--klue-vocab", default=os.path.join(ROOT, "tests", "data", "klue", "roberta-base", "vocab.txt"))
    ap.add_argument("--nsmc-test", default=os.path.join(ROOT, "data", "nsmc", "ratings_test.txt"))
    ap.add_argument("--fresh", action="store_true", help="draw new random weights, inputs and adapter (seeded)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--compare", help="a folder with committed goldens (tests/data) to compare with")
    ap.add_argument("--allow-extra-keys", action="store_true",
                    help="JSON keys the new files have and the committed do not are listed, not failed")
    a = ap.parse_args()
    t = time.perf_counter()
    try:
        log(f"make-goldens: python {sys.version.split()[0]}, {versions()}")
        for sub in ("hf-tiny", "tokenizer"):
            shutil.rmtree(os.path.join(a.out, sub), ignore_errors=True)
        write_hf_tiny(a.out, a)
        write_tokenizer(a.out, a)
        log(f"make-goldens: wrote {a.out} in {time.perf_counter() - t:.1f} s")
        if not a.compare:
            return 0
        rep = compare(a.out, a.compare, a.allow_extra_keys)
    except SystemExit as e:
        if isinstance(e.code, str):
            log(f"HF-GOLDENS FAIL: {e.code}")
            return 1
        raise
    except Exception as e:  # noqa: BLE001 -- a stack that cannot make them fails the check
        import traceback
        traceback.print_exc(file=sys.stdout)
        log(f"HF-GOLDENS FAIL: {type(e).__name__}: {e}".splitlines()[0])
        return 1
    n = len(rep.rows)
    if rep.failed:
        log(f"HF-GOLDENS FAIL: {len(rep.failed)} of {n} files differ from {a.compare}: {', '.join(rep.failed)}")
        return 1
    log(f"HF-GOLDENS PASS: all {n} files reproduced within tolerance ({time.perf_counter() - t:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
