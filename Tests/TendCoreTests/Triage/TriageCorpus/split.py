#!/usr/bin/env python3
"""Splits the labelled triage corpus into `tune.jsonl` and `validate.jsonl` by a fixed rule.

A row belongs to `validate` when the 32-bit FNV-1a hash of its text's UTF-8 bytes is divisible
by 3, otherwise to `tune`. Rules and models are fitted on `tune` only; `validate` is never read
while writing them (TriageCorpusTests checks that every row sits on its side of the rule).

    split.py STAGING.jsonl [MORE.jsonl …]   # writes tune.jsonl and validate.jsonl next to this file
"""
import json
import os
import sys

LEVELS = {"urgent", "review", "private", "general", "social"}
CONTEXTS = {"glucose", "oncology", "pregnancy", "asthma", "hip"}


def fnv1a32(text: str) -> int:
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def in_validate(text: str) -> bool:
    return fnv1a32(text) % 3 == 0


def main(paths):
    rows, seen = [], set()
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                line = line.strip()
                if not line:
                    continue
                row = json.loads(line)
                problems = []
                if row.get("locale") not in ("zh", "en"):
                    problems.append("locale")
                if row.get("level") not in LEVELS:
                    problems.append("level")
                if not isinstance(row.get("text"), str) or not row["text"].strip():
                    problems.append("text")
                if not isinstance(row.get("category"), str):
                    problems.append("category")
                if "context" in row and row["context"] not in CONTEXTS:
                    problems.append("context")
                if "flags" in row and row["flags"] != ["compliance"]:
                    problems.append("flags")
                if problems:
                    sys.exit(f"{path}:{number}: bad {', '.join(problems)}")
                if row["text"] in seen:
                    continue
                seen.add(row["text"])
                rows.append(row)
    here = os.path.dirname(os.path.abspath(__file__))
    keys = ["id", "locale", "text", "level", "flags", "category", "context"]
    for name, side in (("tune.jsonl", False), ("validate.jsonl", True)):
        with open(os.path.join(here, name), "w", encoding="utf-8") as out:
            for row in rows:
                if in_validate(row["text"]) == side:
                    ordered = {k: row[k] for k in keys if k in row}
                    out.write(json.dumps(ordered, ensure_ascii=False) + "\n")
    print(f"{len(rows)} rows: {sum(not in_validate(r['text']) for r in rows)} tune, {sum(in_validate(r['text']) for r in rows)} validate")


if __name__ == "__main__":
    main(sys.argv[1:])
