"""Real concurrent HTTP against uvicorn: gap-free version numbers and single-winner alias moves."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from adaptloop_contracts import TopicNames
from registry_testkit import auth, consume, event_of, live_server, make_settings, seed_adapter, version_body


def test_50_concurrent_registrations_number_1_to_50(backend: tuple[str, str], tmp_path: Path) -> None:
    with live_server(make_settings(backend, tmp_path)) as url, httpx.Client(base_url=url, timeout=60) as c:
        seeded = seed_adapter(c)

        def register(i: int) -> httpx.Response:
            with httpx.Client(base_url=url, timeout=60) as own:
                return own.post(f"/v1/adapters/{seeded['name']}/versions",
                                json=version_body(seeded, request_id=f"req-{i}"), headers=auth("trainer"))

        with ThreadPoolExecutor(50) as pool:
            responses = list(pool.map(register, range(50)))
        assert [r.status_code for r in responses] == [201] * 50, [r.text for r in responses if r.status_code != 201]
        assert sorted(r.json()["version"] for r in responses) == list(range(1, 51))
        listed = c.get(f"/v1/adapters/{seeded['name']}/versions").json()
        assert [v["version"] for v in listed] == list(range(1, 51))


def test_20_concurrent_moves_with_the_same_expectation_have_one_winner(
    backend: tuple[str, str], tmp_path: Path, kafka_bootstrap: str, topics: TopicNames
) -> None:
    settings = make_settings(backend, tmp_path, relay_enabled=True, kafka_bootstrap=kafka_bootstrap,
                             topic_prefix=topics.prefix)
    with live_server(settings) as url, httpx.Client(base_url=url, timeout=60) as c:
        seeded = seed_adapter(c)
        name = seeded["name"]
        for _ in range(21):
            c.post(f"/v1/adapters/{name}/versions", json=version_body(seeded), headers=auth("trainer"))
        alias_url = f"/v1/adapters/{name}/aliases/production"
        assert c.put(alias_url, json={"version": 1, "expected_version": None, "reason": "start"},
                     headers=auth("admin")).status_code == 200

        def move(target: int) -> int:
            with httpx.Client(base_url=url, timeout=60) as own:
                return own.put(alias_url, json={"version": target, "expected_version": 1, "reason": f"to {target}"},
                               headers=auth("admin")).status_code

        with ThreadPoolExecutor(20) as pool:
            statuses = list(pool.map(move, range(2, 22)))
        assert sorted(statuses) == [200] + [409] * 19
        history = c.get(f"{alias_url}/history").json()
        assert len([h for h in history if h["from_version"] == 1]) == 1
        winner = c.get(alias_url).json()["version"]

        def moved_from_1(msgs: list) -> list:  # type: ignore[type-arg]
            return [e for e in map(event_of, msgs) if e["event_type"] == "adapter.alias_moved"
                    and e["model"] == name and e["previous_version"] == 1]

        # the sentinel is committed after every move, and the relay keeps one adapter's events in order
        sentinel = c.post(f"/v1/adapters/{name}/versions/1/load-failures", json={"replica": "t", "reason": "sentinel"},
                          headers=auth("trainer"))
        assert sentinel.status_code == 201
        messages = consume(kafka_bootstrap, topics("registry.events"), until=lambda msgs: any(
            event_of(m)["event_type"] == "adapter.load_failed" and event_of(m)["model"] == name for m in msgs))
        moves = moved_from_1(messages)
        assert len(moves) == 1 and moves[0]["version"] == winner
