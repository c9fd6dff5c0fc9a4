"""Drift restarted against a broker that lost its data, with the checkpoints of the broker's previous life.

The checkpoints keep offsets outside the broker; on an emptied broker they point past the end of
every partition. The service must notice, drop that state and read the new log from its start.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

import httpx
from adaptloop_contracts import DriftDetected, TopicNames
from adaptloop_devstack.broker import BrokerProcess, free_port
from adaptloop_drift.synthetic import errors, make_feedback, make_log
from adaptloop_kafka import EventProducer, ensure_topics
from drift_testkit import DriftProcess, TopicReader

ADAPTER = "phoenix"


def _metric_sum(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()))


def test_restart_on_an_emptied_broker_reads_the_new_log(private_brokers: Callable[[], BrokerProcess],
                                                        topics: TopicNames, tmp_path: Path) -> None:
    first = private_brokers()
    ensure_topics(first.bootstrap, topics.all_with_partitions())
    data_dir = tmp_path / "data"
    old = DriftProcess(first.bootstrap, topics, data_dir, free_port(), tmp_path / "drift-1.log")
    old.start()
    producer = EventProducer(first.bootstrap, topics=topics, config={"linger.ms": 20})
    for i in range(40):
        producer.publish("inference.logs", make_log(ADAPTER, i, seed=3))
    for i, e in enumerate(errors([0.1] * 800, seed=3)):
        producer.publish("inference.feedback", make_feedback(ADAPTER, i, e, seed=3, version=1))
    assert producer.flush(30.0) == 0
    assert old.wait_for_ratings(800, timeout_s=60) == 800
    old.stop(signal.SIGTERM)  # checkpoints at offsets 40 and 800 of the first broker's life
    assert list((data_dir / f"{topics.prefix}adaptloop-drift").glob("signals-p*.ckpt"))
    first.stop()

    second = private_brokers()  # the same topics, empty: every checkpointed offset is past their end
    ensure_topics(second.bootstrap, topics.all_with_partitions())
    svc = DriftProcess(second.bootstrap, topics, data_dir, free_port(), tmp_path / "drift-2.log")
    try:
        svc.start()
        producer = EventProducer(second.bootstrap, topics=topics, config={"linger.ms": 20})
        logs = topics("inference.logs")
        poison = [b"{not json", json.dumps({"event_type": "inference.log", "model": ADAPTER}).encode()]
        for value in poison:
            producer.produce_raw(logs, value, key=ADAPTER.encode(), headers=None)
        producer.publish("inference.logs", make_log(ADAPTER, 0, seed=9))
        errs = errors([0.1] * 300 + [0.95] * 200, seed=9)
        for i, e in enumerate(errs):
            producer.publish("inference.feedback", make_feedback(ADAPTER, i, e, seed=9))
        assert producer.flush(30.0) == 0

        reader = TopicReader(second.bootstrap, [topics.dlq("inference.logs"), topics("drift.detected")])
        try:
            msgs = reader.poll_until(lambda m: len(m[logs + ".dlq"]) >= len(poison)
                                     and len(m[topics("drift.detected")]) >= 1, timeout_s=60)
        finally:
            reader.close()
        assert [m.value() for m in msgs[logs + ".dlq"]] == poison, svc.tail()
        detected = [DriftDetected.from_json_bytes(m.value()) for m in msgs[topics("drift.detected")]]
        assert any(d.signal == "quality_error" and d.model == ADAPTER for d in detected), svc.tail()
        # the state of the first life was dropped: only the second life's ratings are counted
        assert svc.wait_for_ratings(len(errs), timeout_s=30) == len(errs)
        metrics = httpx.get(f"{svc.url}/metrics", timeout=5).text
        # one reset of the partition, counted under the topic that showed it first
        assert _metric_sum(metrics, "adaptloop_drift_offset_resets_total", reason="beyond_end") == 1
        ready = httpx.get(f"{svc.url}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
    finally:
        svc.stop()
