"""Run with the trainer's Python (var/venv/model), not collected by pytest: `python trainer_snapshot_job.py ADAPTER
CANDIDATE_VERSION` with the trainer's `ADAPTLOOP_TRAINER_*` environment, once the trainer is ready (its
schema migrated, its unfinished jobs already recovered: the job recorded here is never run).

Records what a finished train job of ADAPTER leaves behind, through the trainer's own code but without training:
the job in the trainer's store, its dataset snapshot sealed from ingest's export (through the trainer's privacy
policy) and uploaded to the registry, and the snapshot's examples pinned as the adapter's regression examples
(a passing job pins its held-out ones; here all, so which ones the split holds out does not matter).
Prints `{"job_id", "snapshot_id", "snapshot_sha256", "example_ids", "pinned"}` as JSON.
"""

from __future__ import annotations

import json
import sys

from adaptloop_common.privacy import PrivacyPolicy
from adaptloop_common.service_database import ServiceDatabase
from adaptloop_contracts import RetrainRequested, TrainingState
from adaptloop_trainer.config import Settings
from adaptloop_trainer.dataset_privacy import RedactedExamples
from adaptloop_trainer.infra.db import SqlJobStore
from adaptloop_trainer.infra.ingest_client import IngestClient
from adaptloop_trainer.infra.registry_client import RegistryClient
from adaptloop_trainer.snapshot import snapshot_from_export


def main(adapter: str, candidate_version: int) -> None:
    settings = Settings()  # type: ignore[call-arg]
    database = ServiceDatabase(settings.database_url, service="trainer", schema=settings.db_schema)
    store = SqlJobStore(database.engine)
    registry = RegistryClient(settings.registry_url, settings.registry_token)
    ingest = IngestClient(settings.ingest_url, settings.ingest_token)
    try:
        request = RetrainRequested(model=adapter, reason="manual", requested_by="erasure-test")
        job, _ = store.create_or_get(request, traceparent=None)
        examples = RedactedExamples(ingest, PrivacyPolicy(settings.privacy))
        snapshot = snapshot_from_export(examples.export(adapter, since=None, until=None))
        registry.upload_artifact(snapshot.content, "snapshot.jsonl")
        store.update(job.job_id, state=TrainingState.SUCCEEDED, progress=1.0, snapshot_id=snapshot.snapshot_id,
                     snapshot_sha256=snapshot.sha256, candidate_version=candidate_version)
        pinned = store.pin_regression(adapter, snapshot.examples, snapshot_sha256=snapshot.sha256)
    finally:
        registry.close()
        ingest.close()
        database.dispose()
    print(json.dumps({"job_id": str(job.job_id), "snapshot_id": snapshot.snapshot_id,
                      "snapshot_sha256": snapshot.sha256, "example_ids": [e.example_id for e in snapshot.examples],
                      "pinned": pinned}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
