"""RolloutJudge: one partition's ratings, joined to the versions that served them, turned into rollout verdicts.

It follows the aliases from `registry.events`: while an adapter has a canary it runs a
`CanaryTrial`; each time `production` moves (by any actor but the guard itself) it runs a
`GuardTrial` for the next `guard_window_events` ratings of the new version.

The verdicts depend on the ratings and the alias events' times, not on how the three topics
interleaved on arrival. Both ways round are handled:

- an alias move read *before* the ratings of its time (the consumer fetched `registry.events` ahead
  of `inference.feedback`) is held, per adapter, until the adapter's ratings have caught up with
  the move's `occurred_at`: it is applied just before the adapter's first rating from its time on,
  or once the partition's feedback topic has passed that time with no earlier rating of the
  adapter still waiting for its log, or when the partition's logs and feedback were read to their
  end (`caught_up`: idle topics). A guard so starts from the same reference as when the topics
  are read in time order;
- an alias move read *after* the first ratings of its period: the trial is seeded from the ratings
  already buffered per version (by the time their requests were served).

Everything here is plain state; the consumer thread calls it and checkpoints it with the detectors.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from adaptloop_contracts import DriftDetected, InferenceFeedback, InferenceLog, RegistryEvent
from adaptloop_contracts.registry_api import ACTOR_OF_ACTION

from adaptloop_drift.rollout.ratings import RatedEvent, RatingQueue, ServedLogs
from adaptloop_drift.rollout.trials import Arm, CanaryTrial, GuardTrial, TrialRules, Verdict, iso
from adaptloop_drift.signals import OPERATIONAL_SIGNALS, Signal

GUARD_ACTOR = ACTOR_OF_ACTION["rollback_production"]
CANARY_ACTOR = ACTOR_OF_ACTION["graduate_canary"]
PRODUCTION, CANARY = "production", "canary"


@dataclass(frozen=True)
class RolloutConfig:
    """Rules of the trials plus the judge's memory bounds."""

    rules: TrialRules = field(default_factory=TrialRules)
    reference_events: int = 200
    """The guard's reference: at most this many of the previous version's latest ratings before the move."""
    buffer_events: int = 200
    """Ratings remembered per version, to seed a trial whose alias event arrives late and for the reference."""
    join_wait_s: float = 60.0
    trigger_signals: frozenset[str] = frozenset(str(s) for s in Signal if s not in OPERATIONAL_SIGNALS)
    history: int = 10
    """Closed trials and verdicts kept per adapter for the state endpoint."""
    versions_per_adapter: int = 3


class AdapterRollout:
    """What the judge knows of one adapter: its aliases, recent ratings per version, its trials."""

    def __init__(self, adapter: str, config: RolloutConfig) -> None:
        self.adapter = adapter
        self.production: int | None = None
        self.canary: int | None = None
        self.recent: dict[int | None, deque[RatedEvent]] = {}
        self.drift_at: dict[int | None, float] = {}
        self.canary_trial: CanaryTrial | None = None
        self.guard: GuardTrial | None = None
        self.verdicts: deque[Verdict] = deque(maxlen=config.history)
        self.closed: deque[dict[str, Any]] = deque(maxlen=config.history)
        self.registry_events: deque[str] = deque(maxlen=64)
        self.ratings = 0

    def remember(self, rated: RatedEvent, config: RolloutConfig) -> None:
        buf = self.recent.get(rated.version)
        if buf is None:
            buf = self.recent[rated.version] = deque(maxlen=config.buffer_events)
            self._evict(config.versions_per_adapter)
        buf.append(rated)
        self.ratings += 1

    def _evict(self, keep: int) -> None:
        pinned = {self.production, self.canary}
        for trial in (self.canary_trial, self.guard):
            if trial is not None:
                pinned |= {trial.version, getattr(trial, "production", None), getattr(trial, "previous", None)}
        spare = sorted((v for v in self.recent if v not in pinned),
                       key=lambda v: self.recent[v][-1].seq if self.recent[v] else 0)
        while len(self.recent) > keep and spare:
            del self.recent[spare.pop(0)]

    def close(self, kind: str, outcome: str, rules: TrialRules, at: float) -> None:
        trial = self.canary_trial if kind == CANARY else self.guard
        if trial is None:
            return
        self.closed.append({**trial.snapshot(rules), "outcome": outcome, "closed_at": iso(at)})
        if kind == CANARY:
            self.canary_trial = None
        else:
            self.guard = None


class RolloutJudge:
    """Per partition: ratings in, verdicts out. Verdicts are pure functions of the events (see module doc)."""

    def __init__(self, config: RolloutConfig, served: ServedLogs) -> None:
        self.config = config
        self.served = served
        self.queue = RatingQueue(served, max_wait_s=config.join_wait_s)
        self.adapters: dict[str, AdapterRollout] = {}
        self.unattributed = 0
        self.held: dict[str, deque[RegistryEvent]] = {}
        """Alias moves read before the adapter's ratings reached their time, in arrival order (see module doc)."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("held", {})  # checkpoints written before moves were held
        self.__dict__.update(state)

    @property
    def rules(self) -> TrialRules:
        return self.config.rules

    def _adapter(self, name: str) -> AdapterRollout:
        st = self.adapters.get(name)
        if st is None:
            st = self.adapters[name] = AdapterRollout(name, self.config)
        return st

    # -- inputs ----------------------------------------------------------------------------
    def observe_log(self, adapter: str, log: InferenceLog) -> list[Verdict]:
        """Call after the log was recorded in `ServedLogs` (the monitors do it)."""
        released = self.queue.on_log(adapter, log)
        if not released and not self.held:  # the usual case: no rating waited for this log
            return []
        return self._rate_all(released) + self._apply_held()

    def observe_feedback(self, adapter: str, feedback: InferenceFeedback) -> list[Verdict]:
        out = self._rate_all(self.queue.on_feedback(adapter, feedback))
        return out + self._apply_held() if self.held else out

    def caught_up(self, *, logs: bool = True, feedback: bool = True) -> list[Verdict]:
        """The partition's logs (and feedback) topic was read to its end, as the broker knew it after
        the events held here were read: no log (rating) older than them is still to come.

        With the logs at their end, ratings waiting for a log give up by the feedback topic's time;
        with both at their end, every held alias move is applied. (No verdict comes of that in practice:
        a rating that could count in a trial a held move starts or ends is from its time on, and would
        have released it.)
        """
        out = self._rate_all(self.queue.expire()) if logs else []
        if logs and feedback:
            for adapter in list(self.held):
                out += self._apply_moves(adapter, None)
        return out

    @property
    def holding(self) -> int:
        """Alias moves held until the ratings catch up with them."""
        return sum(len(q) for q in self.held.values())

    def observe_detection(self, detected: DriftDetected) -> None:
        """A trigger-signal drift of a version: its ratings from before it no longer describe today's traffic."""
        if detected.signal in self.config.trigger_signals:
            st = self._adapter(detected.model)
            at = detected.occurred_at.timestamp()
            st.drift_at[detected.adapter_version] = max(at, st.drift_at.get(detected.adapter_version, at))

    def observe_registry(self, event: RegistryEvent) -> list[Verdict]:
        if event.event_type != "adapter.alias_moved" or event.alias not in (PRODUCTION, CANARY):
            return []
        st = self._adapter(event.model)
        eid = str(event.event_id)
        if eid in st.registry_events:
            return []
        st.registry_events.append(eid)
        self.held.setdefault(st.adapter, deque()).append(event)
        return self._apply_held(st.adapter)

    # -- event-time order ------------------------------------------------------------------
    def _ready(self, adapter: str, at: float) -> bool:
        """Every rating of `adapter` from before `at` was read and handed on (the feedback topic passed `at`)."""
        if self.queue.feedback_clock < at:
            return False
        waiting = self.queue.oldest_waiting(adapter)
        return waiting is None or waiting >= at

    def _apply_held(self, adapter: str | None = None) -> list[Verdict]:
        """Apply the held moves whose time the ratings have reached (of one adapter, or of all)."""
        out: list[Verdict] = []
        for name in ([adapter] if adapter is not None else list(self.held)):
            moves = self.held.get(name)
            while moves and self._ready(name, moves[0].occurred_at.timestamp()):
                out += self._apply(moves.popleft())
            if not moves:
                self.held.pop(name, None)
        return out

    def _apply_moves(self, adapter: str, upto: float | None) -> list[Verdict]:
        """Apply the adapter's held moves up to time `upto` (all of them with None)."""
        moves = self.held.get(adapter)
        out: list[Verdict] = []
        while moves and (upto is None or moves[0].occurred_at.timestamp() <= upto):
            out += self._apply(moves.popleft())
        if not moves:
            self.held.pop(adapter, None)
        return out

    def _apply(self, event: RegistryEvent) -> list[Verdict]:
        st = self._adapter(event.model)
        at = event.occurred_at.timestamp()
        if event.alias == CANARY:
            return self._canary_moved(st, event, at)
        return self._production_moved(st, event, at)

    # -- aliases ---------------------------------------------------------------------------
    def _ends(self, st: AdapterRollout, kind: str, outcome: str, event: RegistryEvent, at: float) -> None:
        """Close a trial; but a move of the judge's own that comes before the trial's verdict (a replay
        that took the move early) leaves it open for the requests served before the move."""
        trial = st.canary_trial if kind == CANARY else st.guard
        own = CANARY_ACTOR if kind == CANARY else GUARD_ACTOR
        if trial is not None and trial.verdict is None and event.actor == own:
            trial.until = at if trial.until is None else min(trial.until, at)
            return
        st.close(kind, outcome, self.rules, at)

    def _canary_moved(self, st: AdapterRollout, event: RegistryEvent, at: float) -> list[Verdict]:
        trial = st.canary_trial
        st.canary = event.version
        if trial is not None and trial.version != event.version:
            if event.version is not None:
                st.close(CANARY, f"canary moved by {event.actor}", self.rules, at)
            else:
                decided = trial.verdict is not None and trial.verdict.action == "abandon_canary"
                self._ends(st, CANARY, "abandoned" if decided else f"canary removed by {event.actor}", event, at)
        if event.version is None or (st.canary_trial is not None and st.canary_trial.version == event.version):
            return []
        return self._start_canary(st, event.version, at, str(event.event_id))

    def _production_moved(self, st: AdapterRollout, event: RegistryEvent, at: float) -> list[Verdict]:
        version, previous = event.version, event.previous_version
        st.production = version
        out: list[Verdict] = []
        trial = st.canary_trial
        if trial is not None and version == trial.version:
            self._ends(st, CANARY, f"graduated by {event.actor}", event, at)
        elif trial is not None and version != trial.production:
            st.close(CANARY, "production moved during the canary", self.rules, at)
            if st.canary is not None:
                out += self._start_canary(st, st.canary, at, str(event.event_id))
        guard = st.guard
        if guard is not None:
            if event.actor == GUARD_ACTOR and version == guard.previous:
                self._ends(st, PRODUCTION, "rolled back", event, at)
            else:
                st.close(PRODUCTION, f"production moved by {event.actor}", self.rules, at)
        if version is not None and previous is not None and version != previous and event.actor != GUARD_ACTOR:
            out += self._start_guard(st, version, previous, at, str(event.event_id))
        return out

    def _start_canary(self, st: AdapterRollout, version: int, since: float, start_event: str) -> list[Verdict]:
        trial = st.canary_trial = CanaryTrial.start(st.adapter, version, st.production, since, start_event)
        return self._seed(st, trial, (version, st.production))

    def _start_guard(self, st: AdapterRollout, version: int, previous: int, since: float,
                     start_event: str) -> list[Verdict]:
        cutoff = st.drift_at.get(previous)
        size = self.config.reference_events
        before = [r for r in st.recent.get(previous, ())
                  if r.served_at < since and (cutoff is None or r.served_at >= cutoff)][-size:]
        trial = st.guard = GuardTrial(st.adapter, version, previous, since, start_event, cutoff, Arm(previous),
                                      Arm(version), size)
        for rated in before:
            trial.reference.add(rated)
        return self._seed(st, trial, (version,))

    def _seed(self, st: AdapterRollout, trial: CanaryTrial | GuardTrial,
              versions: tuple[int | None, ...]) -> list[Verdict]:
        """Replay buffered ratings served since the trial began, in feedback order, as if they came now."""
        seen = {r.seq: r for v in set(versions) for r in st.recent.get(v, ()) if r.served_at >= trial.since}
        for seq in sorted(seen):
            verdict = trial.add(seen[seq], self.rules)
            if verdict is not None:
                st.verdicts.append(verdict)
                self._close_ended(st, verdict.decided_at)
                return [verdict]
        return []

    # -- ratings ---------------------------------------------------------------------------
    def _rate_all(self, released: list[RatedEvent]) -> list[Verdict]:
        out: list[Verdict] = []
        for rated in released:
            if rated.adapter in self.held:  # a move from before this rating comes first, as it happened
                out += self._apply_moves(rated.adapter, rated.rated_at)
            out += self._rate(rated)
        return out

    def _rate(self, rated: RatedEvent) -> list[Verdict]:
        if rated.version is None and not rated.joined:
            self.unattributed += 1
            return []
        st = self._adapter(rated.adapter)
        st.remember(rated, self.config)
        if st.canary_trial is None and st.guard is None:
            # No trial open: the rating is only remembered (to seed a trial, or as a guard's reference).
            return []
        out: list[Verdict] = []
        for trial in (st.canary_trial, st.guard):
            if trial is None:
                continue
            verdict = trial.add(rated, self.rules)
            if verdict is not None:
                st.verdicts.append(verdict)
                out.append(verdict)
        if st.guard is not None and st.guard.passed:
            st.close(PRODUCTION, "passed", self.rules, rated.rated_at)
        self._close_ended(st, rated.rated_at)
        return out

    def _close_ended(self, st: AdapterRollout, at: float) -> None:
        """Trials left open for their verdict after the judge's own move close once they have it."""
        if st.canary_trial is not None and st.canary_trial.until is not None and st.canary_trial.verdict is not None:
            action = st.canary_trial.verdict.action
            st.close(CANARY, "graduated" if action == "graduate_canary" else "abandoned", self.rules, at)
        if st.guard is not None and st.guard.until is not None and st.guard.verdict is not None:
            st.close(PRODUCTION, "rolled back", self.rules, at)

    # -- reading ---------------------------------------------------------------------------
    def verdicts(self) -> list[Verdict]:
        return [v for st in self.adapters.values() for v in st.verdicts]

    def find(self, decision_id: str) -> Verdict | None:
        return next((v for v in self.verdicts() if str(v.decision_id) == decision_id), None)

    def snapshot(self) -> list[dict[str, Any]]:
        return [self.adapter_snapshot(st) for st in self.adapters.values()]

    def adapter_snapshot(self, st: AdapterRollout) -> dict[str, Any]:
        rules = self.rules
        return {
            "adapter": st.adapter, "production": st.production, "canary": st.canary, "ratings": st.ratings,
            "canary_trial": None if st.canary_trial is None else st.canary_trial.snapshot(rules),
            "guard": None if st.guard is None else st.guard.snapshot(rules),
            "verdicts": [v.snapshot() for v in st.verdicts], "closed_trials": list(st.closed),
            "drift_at": {str(k): iso(v) for k, v in st.drift_at.items()},
            "held_moves": [{"alias": e.alias, "version": e.version, "previous_version": e.previous_version,
                            "actor": e.actor, "occurred_at": iso(e.occurred_at.timestamp()),
                            "event_id": str(e.event_id)} for e in self.held.get(st.adapter, ())],
        }
