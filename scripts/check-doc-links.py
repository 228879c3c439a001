#!/usr/bin/env python3
"""Checks the relative links of README.md and docs/*.md: every target file exists, and every #anchor
names a heading of its target (GitHub's slugs). Exits 1 and lists the broken ones.
Usage: python3 scripts/check-doc-links.py [FILE.md ...]"""
import glob, os, re, sys

def slugs(path):
    out, seen, fence = set(), {}, False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            fence = not fence
        m = None if fence else re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            s = re.sub(r"[^\w\- ]", "", m.group(1).lower()).replace(" ", "-")
            n = seen.get(s, 0)
            seen[s] = n + 1
            out.add(s if n == 0 else f"{s}-{n}")
    return out

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
files = sys.argv[1:] or [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "*.md")))
bad = 0
for f in files:
    text = re.sub(r"```.*?```", "", open(f, encoding="utf-8").read(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # http:, https:, mailto:
        path, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(f), path)) if path else f
        if not os.path.exists(dest):
            print(f"{os.path.relpath(f, root)}: {target}: no such file"); bad += 1
        elif anchor and (not dest.endswith(".md") or anchor not in slugs(dest)):
            print(f"{os.path.relpath(f, root)}: {target}: no such heading"); bad += 1
print(f"{len(files)} files, {bad} broken links")
sys.exit(1 if bad else 0)
