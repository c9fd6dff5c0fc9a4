"""The serving plan: every adapter's alias targets and loadable versions, built by the database in one query."""

from __future__ import annotations

from sqlalchemy import Connection, text

from adaptloop_registry.caller import iso, utc_now

_POSTGRES = text("""
SELECT coalesce(json_agg(json_build_object(
    'name', a.name,
    'base_model', a.base_model,
    'aliases', coalesce((SELECT json_object_agg(al.alias,
                                                json_build_object('version', al.version, 'weight', al.weight))
                         FROM aliases al WHERE al.adapter_id = a.id), '{}'::json),
    'versions', coalesce((SELECT json_object_agg(v.version::text, json_build_object(
                              'weights_sha256', v.weights_sha256, 'config_sha256', v.config_sha256) ORDER BY v.version)
                          FROM adapter_versions v WHERE v.adapter_id = a.id AND v.status <> 'retired'), '{}'::json)
) ORDER BY a.name), '[]'::json)::text
FROM adapters a
""")

_SQLITE = text("""
SELECT coalesce(json_group_array(json(doc)), '[]') FROM (
  SELECT json_object(
    'name', a.name,
    'base_model', a.base_model,
    'aliases', json(coalesce((SELECT json_group_object(al.alias,
                                                       json_object('version', al.version, 'weight', al.weight))
                              FROM aliases al WHERE al.adapter_id = a.id), '{}')),
    'versions', json(coalesce((SELECT json_group_object(CAST(v.version AS TEXT), json_object(
                                   'weights_sha256', v.weights_sha256, 'config_sha256', v.config_sha256))
                               FROM (SELECT * FROM adapter_versions WHERE adapter_id = a.id AND status <> 'retired'
                                     ORDER BY version) v), '{}'))
  ) AS doc
  FROM adapters a ORDER BY a.name
)
""")

POSTGRES_SERVING_PLAN_SQL = _POSTGRES.text
"""Exposed so the benchmark can issue exactly the same query through raw psycopg."""


def serving_plan_json(conn: Connection) -> str:
    """`{"generated_at": ..., "adapters": [...]}` as JSON text, ready to send."""
    query = _SQLITE if conn.dialect.name == "sqlite" else _POSTGRES
    adapters_json = conn.execute(query).scalar_one()
    return f'{{"generated_at":"{iso(utc_now())}","adapters":{adapters_json}}}'
