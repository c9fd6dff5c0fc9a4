"""Name resolution: NAME, NAME:ALIAS, NAME@N, the base model id, canary splits."""

from __future__ import annotations

import pytest
from adaptloop_inference.errors import AdapterUnavailable, ModelNotFound
from adaptloop_inference.plan import VersionArtifacts, VersionRef
from adaptloop_inference.routing import AdapterRoutes, Route, RoutingTable, canary_bucket

FILES = VersionArtifacts("a" * 64, "b" * 64)


def table(**aliases: Route) -> RoutingTable:
    routes = AdapterRoutes("support", aliases, {1: FILES, 2: FILES, 3: FILES})
    return RoutingTable("tiny-llama", {"support": routes})


def test_base_model_id_serves_the_base_model() -> None:
    assert table().resolve("tiny-llama", split_key="u").ref is None
    assert table().resolve("tiny-llama", split_key="u").header_value == "base"


def test_name_alias_and_version_forms() -> None:
    t = table(production=Route(2), staging=Route(3))
    assert t.resolve("support", split_key="u").ref == VersionRef("support", 2)
    assert t.resolve("support:staging", split_key="u").ref == VersionRef("support", 3)
    assert t.resolve("support@1", split_key="u").ref == VersionRef("support", 1)
    assert t.resolve("support@1", split_key="u").header_value == "1"


def test_registered_adapter_without_production_is_served_by_the_base_model() -> None:
    resolution = table().resolve("support", split_key="u")
    assert resolution.ref is None and resolution.header_value == "base"


@pytest.mark.parametrize("model", ["nope", "support:nope", "support@9", "support@x", "nope@1", "nope:production"])
def test_unknown_names_are_not_found(model: str) -> None:
    with pytest.raises(ModelNotFound):
        table(production=Route(2)).resolve(model, split_key="u")


def test_alias_whose_version_could_not_be_loaded_is_unavailable() -> None:
    t = table(production=Route(None, unavailable_reason="rank 64 exceeds the maximum 16"))
    with pytest.raises(AdapterUnavailable, match="rank 64"):
        t.resolve("support", split_key="u")


def test_canary_split_is_deterministic_per_user_and_close_to_its_weight() -> None:
    t = table(production=Route(1), canary=Route(2, weight=0.25))
    users = [f"user-{i}" for i in range(4000)]
    first = [t.resolve("support", split_key=u).ref for u in users]
    again = [t.resolve("support", split_key=u).ref for u in users]
    assert first == again
    share = sum(ref == VersionRef("support", 2) for ref in first) / len(users)
    assert 0.22 < share < 0.28
    assert t.resolve("support:production", split_key=users[0]).ref == VersionRef("support", 1)


def test_canary_bucket_is_stable_and_in_range() -> None:
    assert canary_bucket("support", "alice") == canary_bucket("support", "alice")
    assert 0.0 <= canary_bucket("support", "alice") < 1.0
    assert canary_bucket("support", "alice") != canary_bucket("billing", "alice")


def test_model_ids_list_every_servable_name() -> None:
    ids = table(production=Route(2)).model_ids()
    assert ids == ["tiny-llama", "support", "support:production", "support@1", "support@2", "support@3"]


def test_referenced_versions_are_the_alias_targets() -> None:
    t = table(production=Route(2), canary=Route(3, weight=0.1), broken=Route(None, unavailable_reason="x"))
    assert t.referenced() == {VersionRef("support", 2), VersionRef("support", 3)}
