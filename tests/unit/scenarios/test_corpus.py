"""The scenario corpus is deterministic, split cleanly and distinct per domain."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from adaptloop_scenarios.corpus import (
    DOMAINS,
    ScenarioPair,
    generate_pairs,
    mixed_corpus,
    pair_id_of,
)
from adaptloop_scenarios.domains import DOMAIN_SPECS


def test_at_least_three_named_domains() -> None:
    assert {"capital_markets", "automotive", "security_ops"} <= set(DOMAINS)


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("split", ["train", "heldout"])
def test_same_arguments_give_the_same_pairs(domain: str, split: str) -> None:
    first = generate_pairs(domain, 50, seed=3, split=split)
    assert first == generate_pairs(domain, 50, seed=3, split=split)
    assert len(first) == 50
    assert len({pair.prompt for pair in first}) == 50


def test_fewer_pairs_are_a_prefix_and_seeds_differ() -> None:
    many = generate_pairs("automotive", 40, seed=1)
    assert generate_pairs("automotive", 10, seed=1) == many[:10]
    assert generate_pairs("automotive", 40, seed=2) != many


@pytest.mark.parametrize("domain", DOMAINS)
def test_train_and_heldout_never_share_a_prompt(domain: str) -> None:
    train = {p.prompt for seed in range(3) for p in generate_pairs(domain, 300, seed=seed)}
    heldout = {
        p.prompt for seed in range(3) for p in generate_pairs(domain, 100, seed=seed, split="heldout")
    }
    assert heldout
    assert not train & heldout


@pytest.mark.parametrize("domain", DOMAINS)
def test_pairs_are_short_business_questions_and_answers(domain: str) -> None:
    for pair in generate_pairs(domain, 100, seed=0):
        assert pair.domain == domain
        assert pair.prompt.endswith("?")
        assert 15 <= len(pair.answer.split()) <= 45
        assert "{" not in pair.prompt + pair.answer
        assert pair.pair_id == pair_id_of(domain, pair.prompt, pair.answer)
        assert re.fullmatch(r"[0-9a-f]{16}", pair.pair_id)


def test_domain_lexicons_do_not_overlap() -> None:
    terms = {name: spec.terms() for name, spec in DOMAIN_SPECS.items()}
    for first in DOMAINS:
        for second in DOMAINS:
            if first < second:
                assert not terms[first] & terms[second], (first, second)


def test_answers_use_their_own_domain_vocabulary() -> None:
    for domain in DOMAINS:
        words = {w for p in generate_pairs(domain, 200) for w in p.answer.lower().split()}
        for other in DOMAINS:
            if other != domain:
                own = {w for p in generate_pairs(other, 200) for w in p.answer.lower().split()}
                assert len(words - own) > 40


def test_unknown_domain_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="capital_markets, automotive, security_ops"):
        generate_pairs("gardening", 3)


def test_unknown_split_is_rejected() -> None:
    with pytest.raises(ValueError, match="heldout"):
        generate_pairs("automotive", 3, split="test")


def test_mixed_corpus_interleaves_train_pairs_of_every_domain() -> None:
    corpus = mixed_corpus(5, seed=0)
    assert [pair.domain for pair in corpus[:3]] == list(DOMAINS)
    assert len(corpus) == 5 * len(DOMAINS)
    assert corpus[0::3] == generate_pairs(DOMAINS[0], 5, seed=0)


def test_cli_writes_json_lines() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "adaptloop_scenarios.corpus", "--domain", "security_ops",
         "--n", "4", "--split", "heldout"],
        check=True, capture_output=True, text=True,
    )
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [ScenarioPair(**row) for row in rows] == generate_pairs(
        "security_ops", 4, split="heldout"
    )
