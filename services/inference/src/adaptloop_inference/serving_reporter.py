"""Reports to the registry how many requests each adapter version served on this replica.

Off the request path: a finished request only increments a counter. Every interval a background task
seals each adapter's counts into a report with a fresh `report_id` and sends it. A report the registry
did not acknowledge keeps its `report_id` and is sent again later (the registry counts a `report_id`
once), so counts survive a registry outage and a retry is never counted twice.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter, deque
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime

from adaptloop_contracts import ServingReport
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from adaptloop_inference import metrics
from adaptloop_inference.errors import ReportRefused
from adaptloop_inference.ports import ServingReportPort

log = logging.getLogger(__name__)


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, ReportRefused) and not exc.permanent


class ServingReporter:
    """Counts served requests per (adapter, version) and delivers them as idempotent serving reports."""

    def __init__(self, *, port: ServingReportPort, replica: str, interval_s: float, max_pending: int = 360,
                 attempts: int = 3, backoff_s: float = 0.5,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._port = port
        self._replica = replica
        self.interval_s = interval_s
        self._max_pending = max_pending
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._clock = clock
        self._open: dict[str, Counter[int]] = {}
        self._tokens: dict[str, Counter[int]] = {}
        self._since: dict[str, datetime] = {}
        self._pending: dict[str, deque[ServingReport]] = {}
        self._stop = asyncio.Event()
        self._flushing = asyncio.Lock()

    # -- request path ---------------------------------------------------------------------------
    def record(self, adapter: str, version: int, tokens: int = 0) -> None:
        """One request served by `adapter` version `version` with `tokens` prompt + completion tokens (called once
        per finished request)."""
        counts = self._open.get(adapter)
        if counts is None:
            counts = self._open[adapter] = Counter()
            self._tokens[adapter] = Counter()
            self._since[adapter] = self._clock()
        counts[version] += 1
        if tokens > 0:
            self._tokens[adapter][version] += tokens
        metrics.SERVING_UNREPORTED.inc()

    # -- background -----------------------------------------------------------------------------
    @property
    def pending_reports(self) -> int:
        return sum(len(q) for q in self._pending.values())

    @property
    def unsealed_requests(self) -> int:
        return sum(sum(c.values()) for c in self._open.values())

    def seal(self) -> bool:
        """Turn each adapter's open counts into a report with a fresh `report_id`; False when a full queue held
        some back (they stay open, still counting, and are sealed once the queue drains)."""
        now = self._clock()
        sealed_all = True
        for adapter in list(self._open):
            queue = self._pending.setdefault(adapter, deque())
            if len(queue) >= self._max_pending:
                sealed_all = False
                continue
            counts = self._open.pop(adapter)
            tokens = self._tokens.pop(adapter, Counter())
            since = self._since.pop(adapter)
            queue.append(ServingReport(
                report_id=uuid.uuid4(), replica=self._replica, adapter=adapter, period_start=since,
                period_end=max(now, since), counts={str(v): n for v, n in sorted(counts.items())},
                tokens={str(v): n for v, n in sorted(tokens.items())},
            ))
        metrics.SERVING_PENDING_REPORTS.set(self.pending_reports)
        return sealed_all

    async def flush(self) -> bool:
        """Seal, then send every pending report oldest first; False when the registry could not be reached."""
        async with self._flushing:
            try:
                while True:
                    sealed_all = self.seal()
                    for adapter, queue in list(self._pending.items()):
                        while queue:
                            if not await self._deliver(queue[0]):
                                return False
                            queue.popleft()
                        del self._pending[adapter]
                    if sealed_all:
                        return True
            finally:
                metrics.SERVING_PENDING_REPORTS.set(self.pending_reports)

    async def _deliver(self, report: ServingReport) -> bool:
        """True when the report is done with (acknowledged, or refused for good); False to keep it for later."""
        total = sum(report.counts.values())
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(_transient), stop=stop_after_attempt(self._attempts),
                wait=wait_exponential(multiplier=self._backoff_s, max=10 * self._backoff_s), reraise=True,
            ):
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        metrics.SERVING_REPORTS.labels("retried").inc()
                    duplicate = await self._port.report_serving(report)
        except ReportRefused as exc:
            if not exc.permanent:
                log.warning("serving report %s for %s kept for later: %s", report.report_id, report.adapter,
                            exc.reason)
                return False
            log.error("serving report %s for %s dropped (%d requests): %s", report.report_id, report.adapter,
                      total, exc.reason)
            metrics.SERVING_REPORTS.labels("dropped").inc()
            metrics.SERVING_UNREPORTED.dec(total)
            return True
        metrics.SERVING_REPORTS.labels("duplicate" if duplicate else "accepted").inc()
        metrics.SERVING_REPORTED_REQUESTS.inc(total)
        metrics.SERVING_UNREPORTED.dec(total)
        return True

    async def run(self) -> None:
        """Flush every `interval_s` until `stop()`; one last flush on the way out."""
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval_s)
            try:
                await self.flush()
            except Exception:
                log.exception("serving report flush failed; counts are kept for the next one")
            if self._stop.is_set():
                return

    def stop(self) -> None:
        self._stop.set()
