#!/usr/bin/env bash
# Sets up the Python reference stack that bench/hf_reference.py runs on, offline, on a Debian bookworm
# machine: Debian's python3-torch 1.13.1 (for /usr/bin/python3 3.11) plus, built from their git
# sources, transformers 4.28, peft 0.3.0, accelerate 0.19.0 and huggingface_hub 0.13.4 (the stack
# of the issue's Python original), in a venv that sees Debian's packages:
#
#   scripts/hf-reference-env.sh [PREFIX]          # PREFIX defaults to .hfref in the repo (git-ignored)
#   PREFIX/venv/bin/python bench/hf_reference.py ...   (bench/cpu.sh finds it there)
#
# It needs:
#   - root for apt-get (or the Debian packages below already installed; HFREF_SKIP_APT=1 skips apt);
#   - the four projects' sources, no network: each either a source tree (a folder with setup.py) or
#     a git directory (bare is fine) holding the revision, from these variables or their defaults:
#       HFREF_TRANSFORMERS_SRC  default: /work/.mirror/huggingface+transformers/repo if it exists,
#                               else /work/.mirror/bigcode-project+transformers/repo (a fork whose
#                               main holds upstream's history up to the 4.28 release)
#       HFREF_TRANSFORMERS_REV  default: v4.28.1 where that tag exists, else
#                               50f82e12823ef8844b45a0dd864a78eea80de879: upstream main on
#                               2023-04-12, the commit the v4.28 release branch was cut from (the
#                               next one on main is "v4.29.0.dev0"); it calls itself 4.28.0.dev0
#       HFREF_PEFT_SRC          default /work/.mirror/huggingface+peft/repo,            REV v0.3.0
#       HFREF_ACCELERATE_SRC    default /work/.mirror/huggingface+accelerate/repo,      REV v0.19.0
#       HFREF_HUB_SRC           default /work/.mirror/huggingface+huggingface_hub/repo, REV v0.13.4
#     (HFREF_PEFT_REV, HFREF_ACCELERATE_REV, HFREF_HUB_REV override the revisions.) A session with the
#     search tools brings those git directories with its fetch tool: github:huggingface/peft,
#     github:huggingface/accelerate, github:huggingface/huggingface_hub and
#     github:bigcode-project/transformers (upstream huggingface/transformers is too large to fetch
#     there and the forks that can be fetched carry no release tags, hence the commit).
# The tokenizers (Rust) package is not available here; bench/hf_reference.py then asks for the slow
# BertTokenizer (use_fast=False), and step 3 makes transformers' one hard import of a fast tokenizer
# class (in data_collator.py, which Trainer imports) optional, in the installed copy only.
# Idempotent: a package already installed from the same revision is left alone; rerun freely.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${1:-$root/.hfref}
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
py=/usr/bin/python3

say() { printf 'hf-reference-env: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# 1. Debian's packages: torch 1.13 and the pure-Python dependencies of the four projects.
debs=(python3-torch python3-numpy python3-regex python3-requests python3-filelock python3-packaging
      python3-tqdm python3-yaml python3-psutil python3-setuptools python3-wheel python3-pip python3-venv
      python3-typing-extensions git time)
missing=()
for d in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q "install ok installed" || missing+=("$d")
done
if ((${#missing[@]})); then
  if [[ ${HFREF_SKIP_APT:-0} == 1 ]]; then
    die "missing Debian packages: ${missing[*]} (and HFREF_SKIP_APT=1)"
  fi
  [[ $(id -u) == 0 ]] || die "missing Debian packages: ${missing[*]}; run as root or install them first"
  say "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
"$py" -c 'import torch' || die "$py cannot import torch after installing python3-torch"

# 2. The sources: a tree per project and revision under PREFIX/src.
tf_git=${HFREF_TRANSFORMERS_SRC:-}
if [[ -z $tf_git ]]; then
  if [[ -d /work/.mirror/huggingface+transformers/repo ]]; then tf_git=/work/.mirror/huggingface+transformers/repo
  else tf_git=/work/.mirror/bigcode-project+transformers/repo; fi
fi
tf_rev=${HFREF_TRANSFORMERS_REV:-}
if [[ -z $tf_rev ]]; then
  if git --git-dir="$tf_git" rev-parse -q --verify "refs/tags/v4.28.1^{commit}" >/dev/null 2>&1; then tf_rev=v4.28.1
  else tf_rev=50f82e12823ef8844b45a0dd864a78eea80de879; fi
fi

# name src rev [paths to take from git]: prints the source tree's path.
prepare() {
  local name=$1 src=$2 rev=$3
  shift 3
  if [[ -f $src/setup.py ]]; then
    printf '%s\n' "$src"
    return
  fi
  local gd=$src
  [[ -d $gd/.git ]] && gd=$gd/.git
  git --git-dir="$gd" rev-parse -q --verify "$rev^{commit}" >/dev/null 2>&1 ||
    die "$name: no revision $rev in $src: point its HFREF_*_SRC at a source tree, or at a git directory that has $rev (see the top of $0)"
  local commit
  commit=$(git --git-dir="$gd" rev-parse "$rev^{commit}")
  local tree=$prefix/src/$name-${commit:0:12}
  if [[ ! -f $tree/.complete ]]; then
    say "$name: extracting $rev ($commit) from $gd"
    rm -rf "$tree" && mkdir -p "$tree"
    git --git-dir="$gd" archive --format=tar "$commit" -- "$@" | tar -x -C "$tree"
    echo "$commit" >"$tree/.complete"
  fi
  printf '%s\n' "$tree"
}

tf_tree=$(prepare transformers "$tf_git" "$tf_rev" setup.py README.md LICENSE src)
peft_tree=$(prepare peft "${HFREF_PEFT_SRC:-/work/.mirror/huggingface+peft/repo}" "${HFREF_PEFT_REV:-v0.3.0}" .)
acc_tree=$(prepare accelerate "${HFREF_ACCELERATE_SRC:-/work/.mirror/huggingface+accelerate/repo}" "${HFREF_ACCELERATE_REV:-v0.19.0}" .)
hub_tree=$(prepare huggingface_hub "${HFREF_HUB_SRC:-/work/.mirror/huggingface+huggingface_hub/repo}" "${HFREF_HUB_REV:-v0.13.4}" .)

# 3. A venv over Debian's site-packages (torch, numpy, ...), and the four installed into it, no index.
venv=$prefix/venv
if [[ ! -x $venv/bin/python ]]; then
  say "creating $venv"
  "$py" -m venv --system-site-packages "$venv"
  rm -rf "$prefix/installed"  # stamps of an earlier venv
fi
vpy=$venv/bin/python
stamps=$prefix/installed
mkdir -p "$stamps"
install() {
  local name=$1 tree=$2
  local want
  want=$(cat "$tree/.complete" 2>/dev/null || echo "$tree")
  if [[ -f $stamps/$name && $(cat "$stamps/$name") == "$want" ]]; then
    return
  fi
  say "$name: pip install --no-deps --no-index from $tree"
  PIP_NO_INDEX=1 "$vpy" -m pip install -q --no-deps --no-build-isolation --no-index --disable-pip-version-check "$tree" ||
    die "$name: pip install failed"
  echo "$want" >"$stamps/$name"
}
install huggingface_hub "$hub_tree"
install accelerate "$acc_tree"
install transformers "$tf_tree"
install peft "$peft_tree"

# transformers 4.x lists tokenizers as a requirement, and its data_collator.py (imported by Trainer)
# imports BertTokenizerFast, which only exists with tokenizers. With no tokenizers package, that one
# import is made optional in the installed copy (BertTokenizerFast is only used there for an isinstance
# check in DataCollatorForWholeWordMask); nothing else changes. Idempotent.
"$vpy" - <<'PYEOF' || die "could not patch transformers/data/data_collator.py"
import importlib.util, pathlib
if importlib.util.find_spec("tokenizers") is None:
    p = pathlib.Path(importlib.util.find_spec("transformers").submodule_search_locations[0]) / "data" / "data_collator.py"
    s = p.read_text()
    old = "from ..models.bert import BertTokenizer, BertTokenizerFast\n"
    new = ("from ..models.bert import BertTokenizer\n\ntry:\n    from ..models.bert import BertTokenizerFast\n"
           "except ImportError:  # no tokenizers package (scripts/hf-reference-env.sh)\n    BertTokenizerFast = BertTokenizer\n")
    if old in s:
        p.write_text(s.replace(old, new))
        print("hf-reference-env: patched", p, "(BertTokenizerFast optional: no tokenizers package)")
PYEOF

# 4. It imports, and says what it is.
"$vpy" - <<'EOF' || die "the stack does not import"
import torch, transformers, peft, accelerate, huggingface_hub
from transformers import BertTokenizer, Trainer, TrainingArguments  # noqa: F401
from transformers.utils import is_tokenizers_available
print(f"python {__import__('sys').version.split()[0]}  torch {torch.__version__}  transformers {transformers.__version__}"
      f"  peft {peft.__version__}  accelerate {accelerate.__version__}  huggingface_hub {huggingface_hub.__version__}"
      f"  tokenizers {'yes' if is_tokenizers_available() else 'no (slow tokenizers)'}")
EOF
say "ready: $vpy"
