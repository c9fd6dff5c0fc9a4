"""The example export as the trainer may keep it: every text field through the adapter's privacy mode.

Ingest already redacts what it stores; applying the shared policy again where rows enter a
dataset snapshot means a snapshot (an artifact kept for reproducibility) never holds more
than the policy allows, even for examples stored before the policy was tightened.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from adaptloop_common.privacy import PrivacyPolicy
from adaptloop_contracts.ingest_api import ExportedExample

from adaptloop_trainer.ports import ExampleSource

TEXT_FIELDS = ("prompt", "completion", "correction", "target", "answer")


class RedactedExamples:
    """An `ExampleSource` whose rows come out redacted (emptied, hence skipped, in `drop` mode)."""

    def __init__(self, source: ExampleSource, policy: PrivacyPolicy) -> None:
        self._source = source
        self._policy = policy

    def export(self, adapter: str, *, since: datetime | None, until: datetime | None) -> Iterator[ExportedExample]:
        for row in self._source.export(adapter, since=since, until=until):
            yield ExportedExample.model_validate(self._policy.scrub_row(adapter, row.model_dump(), TEXT_FIELDS))
