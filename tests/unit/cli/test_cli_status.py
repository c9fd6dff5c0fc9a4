"""`adaptloop status`, `versions` and `jobs` render what the services answer."""

from __future__ import annotations

from cli_fakes import Cli, FakeServices, drift_state, make_job

DRIFT_STATE = drift_state([{"adapter": "support", "adapter_version": 2, "logs": 1200, "ratings": 0,
                             "novelty_reference": {"prompts": 200, "frozen": True}, "rating": {}, "detectors": {
    "quality": {"kind": "ADWIN", "encoding": "raw", "observations": 1200, "warming_up": False, "alarms": 1,
                "recent_mean_coded": 0.41, "baseline_mean_coded": 0.2},
    "surprise": {"kind": "PageHinkley", "encoding": "raw", "observations": 1200, "warming_up": True, "alarms": 0,
                 "recent_mean_coded": 2.3, "baseline_mean_coded": None},
}}])


def test_status_shows_adapters_aliases_drift_and_only_open_jobs(cli: Cli, fake: FakeServices) -> None:
    fake.drift_state = DRIFT_STATE
    fake.jobs = {
        "aaaaaaaa-run": make_job("aaaaaaaa-run", "support", "running", progress=0.4),
        "bbbbbbbb-done": make_job("bbbbbbbb-done", "support", "succeeded", progress=1.0, candidate_version=3),
    }

    result = cli("status")

    assert result.exit_code == 0, result.output
    out = result.output
    assert "Services" in out and "http://127.0.0.1:8002" in out
    assert "support" in out and "tiny-llama" in out
    assert "v2" in out and "canary=v3" in out
    assert "quality" in out and "ADWIN" in out and "watching" in out
    assert "surprise" in out and "warming up" in out
    assert "Open jobs" in out and "aaaaaaaa-run" in out and "40%" in out
    assert "bbbbbbbb-done" not in out


def test_status_reports_a_down_service_in_place_and_exits_non_zero(cli: Cli, fake: FakeServices) -> None:
    fake.down = {"drift"}

    result = cli("status")

    assert result.exit_code == 1
    assert "support" in result.output  # the registry section still rendered
    assert "drift service at http://127.0.0.1:8004 is unreachable" in result.output
    assert "make up" in result.output
    assert "Traceback" not in result.output


DRIFT_SERVICE_STATE = drift_state(
    [{"adapter": "support", "adapter_version": 2, "logs": 900, "ratings": 300,
      "novelty_reference": {"prompts": 200, "frozen": True}, "rating": {"count": 300, "recent": 0.1, "overall": 0.2},
      "detectors": {
          "quality_error": {"kind": "ADWIN", "encoding": "raw", "observations": 300, "warming_up": False,
                            "alarms": 1, "recent_mean_coded": 0.62, "baseline_mean_coded": 0.21},
          "novelty": {"kind": "KSWIN", "encoding": "raw", "observations": 40, "warming_up": True,
                      "alarms": 0, "recent_mean_coded": 0.1, "baseline_mean_coded": None}}}],
    policy={"support": {"paused": False, "pending_request": "4b1d", "history": []}})


def test_status_renders_the_drift_services_state_and_policy(cli: Cli, fake: FakeServices) -> None:
    fake.drift_state = DRIFT_SERVICE_STATE

    result = cli("status", "--no-services")

    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "quality_error" in line)
    assert "ADWIN" in row and "0.62" in row and "0.21" in row and "watching" in row and "v2" in row
    assert "warming up" in next(line for line in result.output.splitlines() if "novelty" in line)
    assert "Retrain policy" in result.output and "pending_request=4b1d" in result.output


def test_status_refuses_a_drift_state_outside_the_contract(cli: Cli, fake: FakeServices) -> None:
    fake.drift_state = {"models": {"support": {"signals": {"novelty": {"state": "drift"}}}}}

    result = cli("status", "--no-services")

    assert result.exit_code == 1
    assert "drift answered GET /v1/state with something its contract does not allow: adapters" in result.output
    assert "support" in result.output  # the other sections still rendered
    assert "Traceback" not in result.output


def test_versions_lists_each_version_with_its_aliases(cli: Cli) -> None:
    result = cli("versions", "support")

    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") > 3}
    assert "production" in lines["v2"] and "canary" in lines["v3"]
    assert "heldout_loss=1.9" in lines["v3"]


def test_versions_of_an_unknown_adapter_shows_the_registrys_reason(cli: Cli) -> None:
    result = cli("versions", "nope")

    assert result.exit_code == 1
    assert "404 not found: adapter 'nope' not found" in result.output
    assert "Traceback" not in result.output


def test_jobs_lists_jobs_and_filters_open_ones(cli: Cli, fake: FakeServices) -> None:
    fake.jobs = {
        "job-running": make_job("job-running", "support", "running", progress=0.25),
        "job-failed": make_job("job-failed", "support", "failed", error="out of memory"),
    }

    everything = cli("jobs")
    only_open = cli("jobs", "--open")

    assert everything.exit_code == 0 and only_open.exit_code == 0
    assert "job-running" in everything.output and "out of memory" in everything.output
    assert "job-running" in only_open.output and "job-failed" not in only_open.output
