"""Issue 5 drift acceptance through the real broker: the service runs as a subprocess."""

from __future__ import annotations

import json
import signal
import time
import uuid

import httpx
from adaptloop_contracts import DriftDetected, RetrainRequested, TopicNames
from adaptloop_drift.synthetic import abrupt_error_probabilities, errors, event_id, make_feedback, make_log
from adaptloop_kafka import DLQ_HEADERS, EventProducer
from adaptloop_scenarios.corpus import generate_pairs
from drift_testkit import OPERATOR_TOKEN, DriftProcess, TopicReader

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = [("traceparent", f"00-{TRACE_ID}-00f067aa0ba902b7-01".encode())]


def _decode(messages: list, cls: type) -> list:
    return [cls.from_json_bytes(m.value()) for m in messages]


def test_moa_abrupt_stream_every_change_detected(drift_service: DriftProcess, producer: EventProducer,
                                                 topics: TopicNames, reader_factory) -> None:
    drift_service.env_extra["ADAPTLOOP_DRIFT_POLICY_OPEN_TIMEOUT_S"] = "86400"  # the stream spans 7 h of event time
    drift_service.start()
    seed = 5
    errs = errors(list(abrupt_error_probabilities()), seed=seed)
    producer.publish("inference.logs", make_log("moa", 0, seed=seed), headers=TRACEPARENT)
    for i, e in enumerate(errs):
        producer.publish("inference.feedback", make_feedback("moa", i, e, seed=seed, version=1), headers=TRACEPARENT)
    assert producer.flush(30.0) == 0
    index = {event_id(seed, "fb", i): i for i in range(len(errs))}
    reader = reader_factory([topics("drift.detected"), topics("retrain.requested")])

    def all_seen(msgs: dict) -> bool:
        return len(msgs[topics("drift.detected")]) >= 100

    msgs = reader.poll_until(all_seen, timeout_s=120, settle_s=3)
    detected = [d for d in _decode(msgs[topics("drift.detected")], DriftDetected) if d.signal == "quality_error"]
    at = sorted(index[d.trigger_event_id] for d in detected)
    delays = []
    for change in range(1, 101):
        start = change * 250
        hits = [a for a in at if start <= a < start + 250]
        assert hits, f"change {change} at event {start} not detected"
        delays.append(hits[0] - start)
    assert len(at) == 100, f"expected one alarm per change, got {len(at)}"
    mean_delay = sum(delays) / len(delays)
    print(f"MOA through the broker: 100/100 changes detected, mean delay {mean_delay:.1f} events")
    assert mean_delay <= 1.2 * 49.5  # a lone River ADWIN(default) on the same seeds: ~48-50 (unit test pins it)
    for m in msgs[topics("drift.detected")]:
        headers = dict(m.headers() or [])
        assert TRACE_ID in headers[b"traceparent".decode()].decode()
    retrains = _decode(msgs[topics("retrain.requested")], RetrainRequested)
    assert len(retrains) == 1, "one open retrain per adapter: later changes do not ask again"
    assert TRACE_ID in dict(msgs[topics("retrain.requested")][0].headers())["traceparent"].decode()


def test_stationary_100k_events_raise_no_drift(drift_service: DriftProcess, producer: EventProducer,
                                               topics: TopicNames, reader_factory) -> None:
    drift_service.start()
    pairs = generate_pairs("capital_markets", 2000, seed=1)
    errs = errors([0.2] * 50_000, seed=11)
    for i in range(50_000):
        pair = pairs[i % len(pairs)]
        producer.publish("inference.logs", make_log("steady", i, seed=11, prompt=pair.prompt, completion=pair.answer))
        producer.publish("inference.feedback", make_feedback("steady", i, errs[i], seed=11))
    assert producer.flush(60.0) == 0
    deadline = time.monotonic() + 240
    seen = 0
    while time.monotonic() < deadline:
        state = httpx.get(f"{drift_service.url}/v1/state", timeout=5).json()
        seen = sum(v["logs"] + v["ratings"] for v in state["adapters"] if v["adapter"] == "steady")
        if seen >= 100_000:
            break
        time.sleep(1)
    assert seen == 100_000
    reader = reader_factory([topics("drift.detected"), topics("retrain.requested")])
    msgs = reader.poll_until(lambda m: False, timeout_s=5)
    assert msgs[topics("drift.detected")] == []
    assert msgs[topics("retrain.requested")] == []


def test_prompt_domain_shift_detected_within_300_events(drift_service: DriftProcess, producer: EventProducer,
                                                        topics: TopicNames, reader_factory) -> None:
    drift_service.start()
    before = generate_pairs("capital_markets", 800, seed=2)
    after = generate_pairs("automotive", 300, seed=2)
    stream = before + after
    errs = errors([0.2] * len(stream), seed=2)
    for i, pair in enumerate(stream):
        producer.publish("inference.logs", make_log("markets", i, seed=2, prompt=pair.prompt, completion=pair.answer))
        producer.publish("inference.feedback", make_feedback("markets", i, errs[i], seed=2))
    assert producer.flush(30.0) == 0
    index = {event_id(2, "log", i): i for i in range(len(stream))}
    reader = reader_factory([topics("drift.detected")])
    msgs = reader.poll_until(lambda m: any(b'"input_novelty"' in x.value() for x in m[topics("drift.detected")]),
                             timeout_s=90, settle_s=2)
    novelty = [d for d in _decode(msgs[topics("drift.detected")], DriftDetected) if d.signal == "input_novelty"]
    assert novelty, "domain shift not detected"
    first = min(index[d.trigger_event_id] for d in novelty)
    print(f"domain shift at event {len(before)} detected at event {first} (delay {first - len(before)})")
    assert len(before) <= first < len(before) + 300
    quality = [d for d in _decode(msgs[topics("drift.detected")], DriftDetected) if d.signal == "quality_error"]
    assert quality == []


def test_restart_mid_drift_yields_exactly_one_retrain(drift_service: DriftProcess, producer: EventProducer,
                                                      topics: TopicNames, reader_factory) -> None:
    drift_service.start()
    errs = errors([0.1] * 500 + [0.9] * 600, seed=8)
    producer.publish("inference.logs", make_log("restart", 0, seed=8))
    for i in range(510):  # reference traffic plus the first few events of the drift
        producer.publish("inference.feedback", make_feedback("restart", i, errs[i], seed=8, version=1))
    assert producer.flush(30.0) == 0
    assert drift_service.wait_for_ratings(510, timeout_s=60) == 510
    drift_service.stop(signal.SIGKILL)
    drift_service.start()
    for i in range(510, 800):
        producer.publish("inference.feedback", make_feedback("restart", i, errs[i], seed=8, version=1))
    assert producer.flush(30.0) == 0
    reader = reader_factory([topics("retrain.requested"), topics("drift.detected")])
    msgs = reader.poll_until(lambda m: len(m[topics("retrain.requested")]) >= 1, timeout_s=90)
    assert len(msgs[topics("retrain.requested")]) == 1
    # the killed service replays what its checkpoint had not covered: each rating counted once
    assert drift_service.wait_for_ratings(800, timeout_s=60) == 800
    drift_service.stop(signal.SIGTERM)  # a second, graceful restart while the drift goes on
    drift_service.start()
    for i in range(800, 1100):
        producer.publish("inference.feedback", make_feedback("restart", i, errs[i], seed=8, version=1))
    assert producer.flush(30.0) == 0
    assert drift_service.wait_for_ratings(1100, timeout_s=60) == 1100, "the events after the restart were consumed"
    msgs = reader.poll_until(lambda m: False, timeout_s=10)  # time for a repeated alarm or request to show
    retrains = _decode(msgs[topics("retrain.requested")], RetrainRequested)
    assert len(retrains) == 1, [str(r.event_id) for r in retrains]
    detections = _decode(msgs[topics("drift.detected")], DriftDetected)
    assert len({d.event_id for d in detections}) == len(detections), "no alarm repeated after the restarts"
    assert retrains[0].reason == "drift" and retrains[0].drift_event_ids


def _dlq_messages(reader: TopicReader, topic: str, count: int) -> list:
    return reader.poll_until(lambda m: len(m[topic]) >= count, timeout_s=60, settle_s=1)[topic]


def test_invalid_and_unknown_events_dead_lettered_without_blocking(drift_service: DriftProcess,
                                                                   producer: EventProducer, topics: TopicNames,
                                                                   reader_factory) -> None:
    drift_service.start()
    logs = topics("inference.logs")
    good = json.loads(make_log("dlq", 0, seed=9).model_dump_json())
    too_many = dict(good, event_id=str(uuid.uuid4()), **{f"x{i}": i for i in range(40)})
    wrong_type = dict(good, event_id=str(uuid.uuid4()), latency_ms="fast")
    bad_name = dict(good, event_id=str(uuid.uuid4()), model="Not.An.Adapter")
    raw = [b"{not json", json.dumps(wrong_type).encode(), json.dumps(too_many).encode(), json.dumps(bad_name).encode(),
           b"[1, 2]"]
    for value in raw:
        producer.produce_raw(logs, value, key=b"dlq", headers=None)
    unknown = make_feedback("never-seen", 0, 1, seed=9)
    producer.publish("inference.feedback", unknown)
    errs = errors([0.1] * 300 + [0.95] * 200, seed=9)
    producer.publish("inference.logs", make_log("dlq", 0, seed=9))
    for i, e in enumerate(errs):
        producer.publish("inference.feedback", make_feedback("dlq", i, e, seed=9))
    assert producer.flush(30.0) == 0
    reader = reader_factory([topics.dlq("inference.logs"), topics("drift.detected")])
    dead_logs = _dlq_messages(reader, logs + ".dlq", len(raw))
    assert len(dead_logs) == len(raw)
    for msg in dead_logs:
        headers = dict(msg.headers())
        assert set(DLQ_HEADERS) <= set(headers)
        assert headers["adaptloop-dlq-source-topic"].decode() == logs
    reasons = [dict(m.headers())["adaptloop-dlq-error"].decode() for m in dead_logs]
    assert "not JSON" in reasons[0] and "latency_ms" in reasons[1] and "unknown fields" in reasons[2]
    assert "does not name an adapter" in reasons[3] and "JSON object" in reasons[4]
    # a rating for an adapter not seen before is monitored (documented), not dead-lettered
    state = httpx.get(f"{drift_service.url}/v1/adapters/never-seen/state", timeout=5)
    assert state.status_code == 200 and state.json()["versions"][0]["ratings"] == 1
    msgs = reader.poll_until(lambda m: len(m[topics("drift.detected")]) >= 1, timeout_s=60)
    assert msgs[topics("drift.detected")], "valid events after the poison ones were still processed"

    unauth = httpx.post(f"{drift_service.url}/v1/adapters/dlq/pause", timeout=5)
    assert unauth.status_code == 401
    ok = httpx.post(f"{drift_service.url}/v1/adapters/dlq/pause", timeout=5,
                    headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
    assert ok.status_code == 202
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        policy = httpx.get(f"{drift_service.url}/v1/state", timeout=5).json()["policy"]
        if policy.get("dlq", {}).get("paused"):
            break
        time.sleep(0.3)
    assert policy["dlq"]["paused"] is True
    metrics = httpx.get(f"{drift_service.url}/metrics", timeout=5).text
    assert "adaptloop_drift_alarms_total" in metrics and "adaptloop_drift_events_per_second" in metrics
    assert httpx.get(f"{drift_service.url}/openapi.json", timeout=5).json()["paths"]["/v1/state"]
