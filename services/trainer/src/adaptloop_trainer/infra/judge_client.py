"""The judge of `judge` suites: any OpenAI-compatible chat endpoint, asked to grade one answer 0..10."""

from __future__ import annotations

import os
import re

import httpx
from adaptloop_contracts.eval_suites import EvalSuiteItem, JudgeSettings

INSTRUCTIONS = ("You grade answers. Rubric: {rubric}\n"
                "Reply with a single integer from 0 (useless) to 10 (perfect) and nothing else.")
_GRADE = re.compile(r"\b(10|[0-9])\b")


def judge_answer(settings: JudgeSettings, item: EvalSuiteItem, answer: str, *, timeout_s: float = 60.0) -> float:
    """The judge's grade / 10; a reply without a grade scores 0. HTTP failures raise (the suite reports them)."""
    headers = {}
    if settings.api_key_env:
        # The suite names the variable, never the key; the trainer's environment holds it.
        key = os.environ.get(settings.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
    reference = f"\nReference answer: {item.expected}" if item.expected else ""
    body = {
        "model": settings.model, "temperature": 0.0, "max_tokens": settings.max_tokens,
        "messages": [
            {"role": "system", "content": INSTRUCTIONS.format(rubric=settings.rubric)},
            {"role": "user", "content": f"Question: {item.prompt}{reference}\nAnswer to grade: {answer}\nGrade:"},
        ],
    }
    response = httpx.post(settings.url.rstrip("/") + "/chat/completions", json=body, headers=headers,
                          timeout=timeout_s)
    response.raise_for_status()
    text = str(response.json()["choices"][0]["message"].get("content") or "")
    grade = _GRADE.search(text)
    return int(grade.group(1)) / 10.0 if grade else 0.0
