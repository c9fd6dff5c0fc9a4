"""Prometheus metrics of the drift service (detectors, policy, rollout judge, signal processes)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

EVENTS = Counter("adaptloop_drift_events_total", "Events consumed by the detectors", ["topic"])
EVENTS_PER_SECOND = Gauge("adaptloop_drift_events_per_second", "Events per second over the last checkpoint interval")
LAG = Gauge("adaptloop_drift_consumer_lag", "Messages not yet processed", ["topic", "partition"])
OFFSET_RESETS = Counter("adaptloop_drift_offset_resets_total",
                        "Checkpointed offsets outside the broker's log: beyond_end and rewound (state dropped, "
                        "partition read again from the start), before_start (events deleted unseen)",
                        ["topic", "reason"])
STALLED_PARTITIONS = Gauge("adaptloop_drift_stalled_partitions",
                           "Topic-partitions with lag whose position has not moved for ADAPTLOOP_DRIFT_STALL_AFTER_S")
ALARMS = Counter("adaptloop_drift_alarms_total", "drift.detected events published", ["signal", "severity"])
RETRAINS = Counter("adaptloop_drift_retrain_requested_total", "retrain.requested events published")
RETRAINS_HELD_BACK = Counter("adaptloop_drift_retrain_held_back_total",
                             "drift retrains held back by an adapter's budget", ["limit"])
DEAD_LETTERED = Counter("adaptloop_drift_dead_lettered_total", "Messages sent to a dead-letter topic", ["topic"])
UNMONITORED = Counter("adaptloop_drift_unmonitored_total", "Valid events not monitored, by reason", ["reason"])
MONITORED_VERSIONS = Gauge("adaptloop_drift_monitored_versions", "Adapter versions with detector state")
CHECKPOINT_BYTES = Gauge("adaptloop_drift_checkpoint_bytes", "Size of the last checkpoint of all partitions")
ROLLOUT_VERDICTS = Counter("adaptloop_drift_rollout_verdicts_total", "Verdicts of the rollout judge", ["action"])
ROLLOUT_DELIVERIES = Counter("adaptloop_drift_rollout_deliveries_total",
                             "Rollout verdicts by what the registry made of them "
                             "(applied, duplicate, stale, refused, failed, observed)", ["action", "outcome"])
ROLLOUT_QUEUE = Gauge("adaptloop_drift_rollout_delivery_queue", "Verdicts waiting to be sent to the registry")
ROLLOUT_TRIALS = Gauge("adaptloop_drift_rollout_trials", "Running trials of the rollout judge", ["kind"])
ROLLOUT_RATINGS_WAITING = Gauge("adaptloop_drift_rollout_ratings_waiting", "Ratings waiting for the log they rate")
ROLLOUT_UNATTRIBUTED = Gauge("adaptloop_drift_rollout_unattributed_ratings",
                             "Ratings the judge could not attribute to a version (their log never seen)")
NATIVE_NOVELTY = Gauge("adaptloop_drift_native_novelty",
                       "1 when input novelty runs in the C extension, 0 when in Python (same values, slower)")
SIGNAL_PROCESS_EXITS = Counter("adaptloop_drift_signal_process_exits_total",
                               "Signal consumer processes that exited while the worker ran (each is started again)")

GATHERED = (EVENTS, EVENTS_PER_SECOND, LAG, OFFSET_RESETS, STALLED_PARTITIONS, ALARMS, DEAD_LETTERED, UNMONITORED,
            MONITORED_VERSIONS, CHECKPOINT_BYTES, ROLLOUT_VERDICTS, ROLLOUT_DELIVERIES, ROLLOUT_QUEUE, ROLLOUT_TRIALS,
            ROLLOUT_RATINGS_WAITING, ROLLOUT_UNATTRIBUTED)
"""What the signal consumer counts: with it in child processes, the worker's /metrics answers each as the sum
of the worker's own and every child's samples (every one of them adds up: counts, rates, lag per partition)."""
