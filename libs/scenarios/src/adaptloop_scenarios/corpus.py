"""Deterministic question/answer corpus of business scenarios.

Pairs are drawn from per-domain templates (see :mod:`adaptloop_scenarios.domains`).
The split of a pair depends only on a hash of its domain and prompt, so "train"
and "heldout" never share a prompt, whatever the seed or size requested.

Examples
--------
>>> pairs = generate_pairs("automotive", 3, seed=1)
>>> [p.domain for p in pairs]
['automotive', 'automotive', 'automotive']
>>> pairs == generate_pairs("automotive", 3, seed=1)
True
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from adaptloop_scenarios.domains import DOMAIN_SPECS, DomainSpec

DOMAINS: tuple[str, ...] = tuple(DOMAIN_SPECS)
SPLITS: tuple[str, ...] = ("train", "heldout")

_HELDOUT_PER_MILLE = 200
_MAX_DRAWS_PER_PAIR = 200


@dataclass(frozen=True)
class ScenarioPair:
    """One business question with its reference answer."""

    domain: str
    prompt: str
    answer: str
    pair_id: str


def pair_id_of(domain: str, prompt: str, answer: str) -> str:
    """Stable identifier of a pair: a short sha256 of its three texts."""
    digest = hashlib.sha256("\x1f".join((domain, prompt, answer)).encode("utf-8"))
    return digest.hexdigest()[:16]


def split_of(domain: str, prompt: str) -> str:
    """The split a prompt belongs to, fixed by a hash of domain and prompt."""
    digest = hashlib.sha256(f"{domain}\x1f{prompt}".encode()).digest()
    bucket = int.from_bytes(digest[:4], "big") % 1000
    return "heldout" if bucket < _HELDOUT_PER_MILLE else "train"


def domain_spec(domain: str) -> DomainSpec:
    """The spec of a domain; ValueError naming the valid domains otherwise."""
    try:
        return DOMAIN_SPECS[domain]
    except KeyError:
        raise ValueError(
            f"unknown domain {domain!r}; valid domains: {', '.join(DOMAINS)}"
        ) from None


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _draw(spec: DomainSpec, rng: random.Random) -> tuple[str, str]:
    template = spec.templates[rng.randrange(len(spec.templates))]
    values = {slot: choices[rng.randrange(len(choices))] for slot, choices in spec.slots.items()}
    return (
        _capitalised(template.prompt.format(**values)),
        _capitalised(template.answer.format(**values)),
    )


def generate_pairs(
    domain: str, n: int, *, seed: int = 0, split: str = "train"
) -> list[ScenarioPair]:
    """``n`` distinct pairs of ``domain`` in ``split``, the same for the same arguments.

    A smaller ``n`` gives a prefix of a larger one with the same seed and split.
    """
    spec = domain_spec(domain)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(f"adaptloop-scenarios:{domain}:{seed}")
    pairs: list[ScenarioPair] = []
    seen: set[str] = set()
    for _ in range(_MAX_DRAWS_PER_PAIR * n + 1000):
        if len(pairs) == n:
            return pairs
        prompt, answer = _draw(spec, rng)
        if prompt in seen or split_of(domain, prompt) != split:
            continue
        seen.add(prompt)
        pairs.append(ScenarioPair(domain, prompt, answer, pair_id_of(domain, prompt, answer)))
    if len(pairs) == n:
        return pairs
    raise ValueError(f"domain {domain!r} cannot supply {n} distinct {split} pairs")


def mixed_corpus(n_per_domain: int, seed: int = 0) -> list[ScenarioPair]:
    """Train pairs of every domain, interleaved round-robin (for tokenizer and pretraining)."""
    per_domain = [generate_pairs(d, n_per_domain, seed=seed, split="train") for d in DOMAINS]
    return [pair for group in zip(*per_domain, strict=True) for pair in group]


def main(argv: Sequence[str] | None = None) -> int:
    """Write pairs as JSON lines to stdout."""
    parser = argparse.ArgumentParser(
        prog="python -m adaptloop_scenarios.corpus",
        description="Write scenario question/answer pairs as JSON lines.",
    )
    parser.add_argument("--domain", required=True, choices=DOMAINS)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", choices=SPLITS, default="train")
    args = parser.parse_args(argv)
    for pair in generate_pairs(args.domain, args.n, seed=args.seed, split=args.split):
        sys.stdout.write(json.dumps(asdict(pair), ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
