#!/usr/bin/env python3
"""Trains the triage backstop: character n-gram logistic regression on the tuning split and the
messages written for the challenge tests — never on the validation split.

    train_model.py            # 5-fold cross-validation, then fits on all of it and writes
                              # Sources/TendCore/Triage/Rules/triage-model.json
    train_model.py --cv-only  # just the cross-validated figures

Training rows: tune.jsonl and ../TriageChallenge.tsv, ../TriageChallenge2.tsv … TriageChallenge11.tsv
(level, locale, category, text; written for the tests before the rules that catch them). Never reads validate.jsonl. (Until session 16 only
the first three challenge files; trained with batches E–J as well and measured on batch K, which it
had not seen, with the rules as they stood before any of those batches: urgent recall 148 → 152 of
170 (zh) and 86 → 87 of 103 (en), precision 0.897 → 0.899 and 0.878 → 0.879.) Deterministic: folds are fixed by the row's FNV-1a hash, the optimiser has no
randomness. Three heads: `urgent` (urgent vs the rest), `concern` (urgent or review vs the rest)
and `ad` (advertising, selling, schemes, miracle cures: rows of category `ads`). The Swift side (TriageModel.swift) hashes the same n-grams of the same
folded text, so the weights apply as trained. Each head's threshold is the lowest score at which
its cross-validated false-positive rate on the tuning split's negatives stays at FALSE_POSITIVES
(the model only sees what the rules left below urgent — mostly negatives — so that rate, not
precision over all rows, is what it costs); the classifier lifts a message only above it, and never
lowers a level.
"""
import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "../../../../Sources/TendCore/Triage/Rules/triage-model.json"))
# The challenge files the shipped model was trained on: TriageChallenge.tsv and 2 … TRAINED_THROUGH.
# Files written later (batch M, TriageChallenge12.tsv) stay out until the next retraining, so the
# committed weights are what this script writes and the later batch measures the model unseen.
TRAINED_THROUGH = 11
CHALLENGES = [os.path.join(HERE, "..", "TriageChallenge.tsv")] + [os.path.join(HERE, "..", f"TriageChallenge{n}.tsv") for n in range(2, TRAINED_THROUGH + 1)]
BUCKETS = 1 << 18
L2 = 1e-5
L1 = 0.0
EPOCHS = 1600
RATE = 4.0
FALSE_POSITIVES = {"urgent": 0.01, "concern": 0.01, "ad": 0.01}
# A message the rules already hold for review (a current symptom) is lifted to urgent at a lower
# score: the one only this share of the tuning split's review rows of its language reach
# (cross-validated; the English head scores review rows higher, so it gets its own threshold).
# 10 %: safety first. Trained without a batch written later by writers who never saw the rules
# and measured on it: 5 % left 1 of its 190 urgent messages in review, 10 % none (precision
# 0.959 → 0.950); 15 % caught no more and cost precision (0.922). Target precision is 0.85.
REVIEW_FALSE_POSITIVES = 0.10
# Concern head: above the score only this share of the tuning split's social rows reach, a message
# the rules would archive as social is kept in the open inbox (general) instead.
SOCIAL_KEPT_OPEN = 0.10
# Ad head: a message that asks something is flagged only above the score this share of the
# asking negatives reach.
AD_QUESTION_FALSE_POSITIVES = 0.005
AD_LOOKALIKE_FALSE_POSITIVES = 0.05
KEEP = 6000  # non-zero weights kept per head
CHECKS = ["我爸胸口疼得厉害，出冷汗", "Thank you all, see you next week 🙏", "ＳｐＯ２ ８８％ and can't catch my breath?", "孕32周 下面出血了。", "sugar 2.7, shaky…", "需要的朋友加我微信，价格优惠", "DM me for the link 🔗"]


def is_han(v):
    return 0x4E00 <= v <= 0x9FFF or 0x3400 <= v <= 0x4DBF


def fold_text(text):
    """The folding of TriageEngine.fold: half-width, lower case, plain apostrophes; a space
    between two Chinese characters dropped."""
    out = []
    for position, ch in enumerate(text):
        v = ord(ch)
        if v in (0x20, 0x3000) and out and is_han(out[-1]) and position + 1 < len(text) and is_han(ord(text[position + 1])):
            continue
        if v < 0x80:
            if 0x41 <= v <= 0x5A:
                v += 0x20
            out.append(v)
        elif 0xFF01 <= v <= 0xFF5E:
            v -= 0xFEE0
            if 0x41 <= v <= 0x5A:
                v += 0x20
            out.append(v)
        elif v == 0x3000:
            out.append(0x20)
        elif v in (0x2018, 0x2019, 0x2032):
            out.append(0x27)
        elif v == 0x2109:
            out.extend([0xB0, 0x66])
        elif 0x00C0 <= v <= 0x024F or 0x0370 <= v <= 0x052F:
            out.extend(ord(c) for c in ch.lower())
        else:
            out.append(v)
    return out


def tokens(scalars):
    """English (ASCII letters) as words; everything else that is not space, digit or
    punctuation (Chinese, emoji) as single characters; digit runs as one placeholder."""
    out = []
    i, n = 0, len(scalars)
    while i < n:
        v = scalars[i]
        if 0x61 <= v <= 0x7A or v == 0x27:
            j = i
            while j < n and (0x61 <= scalars[j] <= 0x7A or scalars[j] == 0x27):
                j += 1
            out.append(("w", tuple(x for x in scalars[i:j] if x != 0x27)))
            i = j
        elif 0x30 <= v <= 0x39:
            j = i
            while j < n and (0x30 <= scalars[j] <= 0x39 or scalars[j] == 0x2E):
                j += 1
            out.append(("n", (0x23,)))
            i = j
        elif v < 0x80 or v in (0x3001, 0x3002, 0xFF0C, 0xFF1F, 0xFF01, 0xFF1A, 0xFF1B, 0x2026, 0xA0):
            if v == 0x3F or v == 0xFF1F:
                out.append(("p", (0x3F,)))
            else:
                out.append(("b", ()))
            i += 1
        else:
            out.append(("c", (v,)))
            i += 1
    return out


def hash_parts(parts):
    h = 0x811C9DC5
    for part in parts:
        for v in part:
            h ^= v
            h = (h * 0x01000193) & 0xFFFFFFFF
        h ^= 0x1F  # separator between tokens
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def ngram_buckets(scalars):
    """Features: English words and word pairs; Chinese characters, pairs and triples (within a
    run of characters); '?' marks; hashed (FNV-1a) into BUCKETS. Each counted once."""
    toks = tokens(scalars)
    seen = set()
    for i, (kind, value) in enumerate(toks):
        if kind == "b":
            continue
        seen.add(hash_parts([(ord(kind),), value]) % BUCKETS)
        if kind == "w":
            j = i + 1
            while j < len(toks) and toks[j][0] == "b":
                j += 1
            if j < len(toks) and toks[j][0] in ("w", "n"):
                seen.add(hash_parts([(0x32,), value, toks[j][1]]) % BUCKETS)
        if kind == "c":
            for order in (2, 3):
                if i + order <= len(toks) and all(t[0] == "c" for t in toks[i:i + order]):
                    seen.add(hash_parts([(0x30 + order,)] + [t[1] for t in toks[i:i + order]]) % BUCKETS)
    return sorted(seen)


def fnv1a32(text):
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def load(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def matrix(rows):
    """A sparse design as (row index, bucket) pairs, binary features scaled by 1/sqrt(count)."""
    indices = [ngram_buckets(fold_text(r["text"])) for r in rows]
    return indices


def fit(indices, labels, weights_init=None):
    """Full-batch proximal gradient descent (L2 + L1) on the logistic loss; deterministic."""
    w = np.zeros(BUCKETS) if weights_init is None else weights_init.copy()
    b = 0.0
    y = np.asarray(labels, dtype=float)
    n = len(indices)
    scale = [1.0 / math.sqrt(max(1, len(ix))) for ix in indices]
    # Balance the classes: positives weigh as much in total as negatives.
    pos = max(1.0, y.sum())
    neg = max(1.0, n - y.sum())
    sample_weight = np.where(y > 0, n / (2 * pos), n / (2 * neg))
    rows = np.concatenate([np.full(len(ix), i) for i, ix in enumerate(indices)])
    cols = np.concatenate([np.asarray(ix, dtype=np.int64) for ix in indices])
    vals = np.concatenate([np.full(len(ix), scale[i]) for i, ix in enumerate(indices)])
    for _ in range(EPOCHS):
        z = np.bincount(rows, weights=vals * w[cols], minlength=n) + b
        p = 1.0 / (1.0 + np.exp(-z))
        g = (p - y) * sample_weight / n
        grad = np.bincount(cols, weights=vals * g[rows], minlength=BUCKETS) + L2 * w
        w -= RATE * grad
        b -= RATE * g.sum()
        # Proximal step for L1: small weights become exactly zero.
        w = np.sign(w) * np.maximum(np.abs(w) - RATE * L1, 0.0)
    return w, b


def score(indices, w, b):
    out = []
    for ix in indices:
        s = sum(w[i] for i in ix) / math.sqrt(max(1, len(ix)))
        out.append(1.0 / (1.0 + math.exp(-(s + b))))
    return np.asarray(out)


def threshold_for(scores, labels, rate):
    """The score above which only `rate` of the negatives lie (cross-validated)."""
    negatives = np.sort(scores[labels == 0])[::-1]
    return float(negatives[min(len(negatives) - 1, int(len(negatives) * rate))])


def prune(w, keep):
    if np.count_nonzero(w) <= keep:
        return w
    cut = np.sort(np.abs(w))[-keep]
    return np.where(np.abs(w) >= cut, w, 0.0)


def load_challenge(path):
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            parts = line.rstrip("\n").split("\t", 3)
            if len(parts) != 4:
                continue
            level, locale, category, text = parts
            rows.append({"id": f"{os.path.basename(path)}:{number}", "locale": locale, "text": text, "level": level, "category": category})
    return rows


def main(cv_only):
    rows = load(os.path.join(HERE, "tune.jsonl"))
    for path in CHALLENGES:
        rows += load_challenge(path)
    print(f"{len(rows)} training rows (tune and the challenge files)")
    indices = matrix(rows)
    heads = {
        "urgent": [1 if r["level"] == "urgent" else 0 for r in rows],
        "concern": [1 if r["level"] in ("urgent", "review") else 0 for r in rows],
        "ad": [1 if r["category"] == "ads" else 0 for r in rows],
    }
    folds = [fnv1a32(r["id"]) % 5 for r in rows]
    result = {"buckets": BUCKETS, "orders": [1, 2, 3], "heads": {}}
    for name, labels in heads.items():
        labels = np.asarray(labels)
        held = np.zeros(len(rows))
        for k in range(5):
            train = [i for i in range(len(rows)) if folds[i] != k]
            test = [i for i in range(len(rows)) if folds[i] == k]
            w, b = fit([indices[i] for i in train], labels[train])
            w = prune(w, KEEP)
            held[test] = score([indices[i] for i in test], w, b)
        t = threshold_for(held, labels, FALSE_POSITIVES[name])
        if name == "ad":
            # What looks like an ad but is none (a hospital's link, a food recommended, where to buy
            # a prescribed drug): at most AD_LOOKALIKE_FALSE_POSITIVES of those rows above it.
            lookalike = np.asarray([r["category"] == "looks_like_ad" for r in rows])
            t_lookalike = float(np.sort(held[lookalike])[::-1][int(lookalike.sum() * AD_LOOKALIKE_FALSE_POSITIVES)])
            print(f"ad: {int(lookalike.sum())} look-alike rows, {AD_LOOKALIKE_FALSE_POSITIVES:.0%} of them above {t_lookalike:.3f}")
            t = max(t, t_lookalike)
        lifted = held > t
        if name == "concern":
            social = np.asarray([r["level"] == "social" for r in rows])
            t_social = float(np.sort(held[social])[::-1][int(social.sum() * SOCIAL_KEPT_OPEN)])
            print(f"concern: not social above {t_social:.3f}: urgent rows above it {(held[labels == 1] > t_social).mean():.3f} of concern rows")
        if name == "urgent":
            t_review = {}
            for locale in ("zh", "en"):
                review = np.asarray([r["level"] == "review" and r["locale"] == locale for r in rows])
                urgent_here = np.asarray([r["level"] == "urgent" and r["locale"] == locale for r in rows])
                t_review[locale] = float(np.sort(held[review])[::-1][int(review.sum() * REVIEW_FALSE_POSITIVES)])
                print(f"urgent ({locale}): from review above {t_review[locale]:.3f}: recall {(held[urgent_here] > t_review[locale]).sum() / urgent_here.sum():.3f}, "
                      f"review rows above it {int((held[review] > t_review[locale]).sum())}/{int(review.sum())}")
        if name == "ad":
            # Rows that ask something: the threshold only AD_QUESTION_FALSE_POSITIVES of their negatives reach.
            asks = np.asarray([("?" in r["text"] or "？" in r["text"] or "吗" in r["text"]) for r in rows])
            t_question = max(t, threshold_for(held[asks], labels[asks], AD_QUESTION_FALSE_POSITIVES))
            print(f"ad: questions above {t_question:.3f}: recall {(held[asks & (labels == 1)] > t_question).mean():.3f} of {int((asks & (labels == 1)).sum())} ads that ask")
        tp = int((lifted & (labels == 1)).sum())
        print(f"{name}: 5-fold held-out: threshold {t:.3f} (false positives {FALSE_POSITIVES[name]:.0%} of negatives), recall {tp / labels.sum():.3f} ({tp}/{int(labels.sum())}), "
              f"precision {tp / max(1, int(lifted.sum())):.3f}; at 0.5: recall {((held >= .5) & (labels == 1)).sum() / labels.sum():.3f}, "
              f"precision {((held >= .5) & (labels == 1)).sum() / max(1, (held >= .5).sum()):.3f}")
        if cv_only:
            continue
        w, b = fit(indices, labels)
        w = prune(w, KEEP)
        nz = np.nonzero(w)[0]
        result["heads"][name] = {
            "bias": round(float(b), 5),
            "threshold": round(t, 4),
            **({"threshold_from_review": {k: round(v, 4) for k, v in t_review.items()}} if name == "urgent" else {}),
            **({"threshold_not_social": round(t_social, 4)} if name == "concern" else {}),
            **({"threshold_question": round(t_question, 4)} if name == "ad" else {}),
            "index": [int(i) for i in nz],
            "weight": [round(float(w[i]), 4) for i in nz],
        }
        print(f"{name}: {len(nz)} non-zero weights")
    if not cv_only:
        # A few fixed strings with their scores, so the Swift side can check it reads the
        # weights exactly as trained (TriageTaxonomyTests).
        result["checks"] = []
        for text in CHECKS:
            ix = ngram_buckets(fold_text(text))
            entry = {"text": text}
            for name, head in result["heads"].items():
                w = dict(zip(head["index"], head["weight"]))
                s = sum(w.get(i, 0.0) for i in ix) / math.sqrt(max(1, len(ix))) + head["bias"]
                entry[name] = round(1.0 / (1.0 + math.exp(-s)), 6)
            result["checks"].append(entry)
        with open(OUT, "w", encoding="utf-8") as out:
            json.dump(result, out, separators=(",", ":"))
            out.write("\n")
        print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main("--cv-only" in sys.argv[1:])
