"""The reference design's apply pattern, as a baseline: one statement per row, a commit per event.

    python bench/reference_pattern.py --url postgresql://postgres@127.0.0.1:5432/postgres \
        [--events 6000] [--connections 1]

What the serverless function this project replaces did for each webhook, minus its HTTP and
BeProduct API calls (so it is a generous baseline): decode the body, insert it into the sync
log, then write every row with its own statement — folder, plan, milestone definition, style,
each milestone, delete and re-insert each milestone's assignments — mark the log row processed
and commit. No versions, no batching, no duplicate check. Tables live in a scratch schema
(`reference`) of a scratch database that is dropped at the end. bench/end_to_end.py runs this
and the service over HTTP on the same events and prints the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

import orjson
import psycopg
from psycopg.conninfo import make_conninfo

from beproduct_sync.testing.loadgen import Stream

SCHEMA = """
CREATE SCHEMA reference;
CREATE TABLE reference.tracking_folder (id uuid PRIMARY KEY, name text,
    created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now());
CREATE TABLE reference.tracking_plan (id uuid PRIMARY KEY,
    folder_id uuid REFERENCES reference.tracking_folder, name text,
    created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now());
CREATE TABLE reference.tracking_timeline_template_item (id uuid PRIMARY KEY, name text,
    short_name text, department text, page_name text, raw_payload jsonb);
CREATE TABLE reference.tracking_plan_style (id uuid PRIMARY KEY,
    plan_id uuid REFERENCES reference.tracking_plan, style_header_id uuid, style_number text,
    style_name text, color_id text, color_name text, active boolean DEFAULT true,
    deleted_at timestamptz, source_updated_at timestamptz, raw_payload jsonb,
    updated_at timestamptz DEFAULT now());
CREATE TABLE reference.tracking_plan_style_timeline (id uuid PRIMARY KEY,
    plan_style_id uuid REFERENCES reference.tracking_plan_style, template_item_id uuid,
    status_label text, plan_date date, due_date date, rev_date date, final_date date,
    late boolean, submits_quantity integer, shared_with jsonb, source_updated_at timestamptz,
    raw_payload jsonb, updated_at timestamptz DEFAULT now());
CREATE TABLE reference.tracking_timeline_assignment (id bigserial PRIMARY KEY,
    timeline_id uuid REFERENCES reference.tracking_plan_style_timeline, assignee_id uuid,
    assignee_name text, UNIQUE (timeline_id, assignee_id));
CREATE TABLE reference.beproduct_sync_log (id bigserial PRIMARY KEY, action text,
    entity_type text, entity_id text, payload jsonb, status text DEFAULT 'pending',
    received_at timestamptz DEFAULT now(), processed_at timestamptz);
"""

LOG = (
    "INSERT INTO reference.beproduct_sync_log (action, entity_type, entity_id, payload)"
    " VALUES (%s, 'tracking', %s, %s::jsonb) RETURNING id"
)
FOLDER = "INSERT INTO reference.tracking_folder (id) VALUES (%s) ON CONFLICT (id) DO NOTHING"
PLAN = (
    "INSERT INTO reference.tracking_plan (id, folder_id) VALUES (%s, %s)"
    " ON CONFLICT (id) DO NOTHING"
)
TEMPLATE = (
    "INSERT INTO reference.tracking_timeline_template_item"
    " (id, name, short_name, department, page_name, raw_payload) VALUES (%s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (id) DO UPDATE SET name = excluded.name, short_name = excluded.short_name,"
    " department = excluded.department, page_name = excluded.page_name,"
    " raw_payload = excluded.raw_payload"
)
STYLE = (
    "INSERT INTO reference.tracking_plan_style (id, plan_id, style_header_id, style_number,"
    " style_name, color_id, color_name, source_updated_at, raw_payload)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (id) DO UPDATE SET plan_id = excluded.plan_id,"
    " style_number = excluded.style_number, style_name = excluded.style_name,"
    " color_id = coalesce(excluded.color_id, reference.tracking_plan_style.color_id),"
    " color_name = coalesce(excluded.color_name, reference.tracking_plan_style.color_name),"
    " source_updated_at = excluded.source_updated_at,"
    " raw_payload = coalesce(excluded.raw_payload, reference.tracking_plan_style.raw_payload),"
    " updated_at = now()"
)
RETIRE = (
    "UPDATE reference.tracking_plan_style SET active = false, deleted_at = %s,"
    " updated_at = now() WHERE id = %s"
)
MILESTONE = (
    "INSERT INTO reference.tracking_plan_style_timeline (id, plan_style_id, template_item_id,"
    " status_label, plan_date, due_date, rev_date, final_date, late, submits_quantity,"
    " shared_with, source_updated_at, raw_payload)"
    " VALUES (%s, %s, %s, %s, %s::timestamptz::date, %s::timestamptz::date,"
    " %s::timestamptz::date, %s::timestamptz::date, %s, %s, %s, %s, %s)"
    " ON CONFLICT (id) DO UPDATE SET status_label = excluded.status_label,"
    " plan_date = excluded.plan_date, due_date = excluded.due_date,"
    " rev_date = excluded.rev_date, final_date = excluded.final_date, late = excluded.late,"
    " submits_quantity = excluded.submits_quantity, shared_with = excluded.shared_with,"
    " source_updated_at = excluded.source_updated_at, raw_payload = excluded.raw_payload,"
    " updated_at = now()"
)
UNASSIGN = "DELETE FROM reference.tracking_timeline_assignment WHERE timeline_id = %s"
ASSIGN = (
    "INSERT INTO reference.tracking_timeline_assignment (timeline_id, assignee_id, assignee_name)"
    " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"
)
DONE = (
    "UPDATE reference.beproduct_sync_log SET status = 'applied', processed_at = now() WHERE id = %s"
)


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _milestone(cur: psycopg.Cursor[Any], item: dict[str, Any], style_id: str, at: Any) -> None:
    cur.execute(
        MILESTONE,
        (
            item["Id"],
            style_id,
            item.get("TimeLineId"),
            item.get("Status"),
            item.get("ProjectDate"),
            item.get("DueDate"),
            item.get("Rev"),
            item.get("Final"),
            item.get("Late"),
            item.get("SubmitsQuantity"),
            _json(item.get("ShareWith") or []),
            at,
            _json(item),
        ),
    )
    cur.execute(UNASSIGN, (item["Id"],))
    for person in item.get("AssignedTo") or []:
        cur.execute(ASSIGN, (item["Id"], person.get("code"), person.get("value")))


def apply_one(conn: psycopg.Connection[Any], raw: bytes) -> None:
    """One webhook, the reference way: a statement per row, one commit."""
    body = orjson.loads(raw)
    data, at = body["data"], body["date"]
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(LOG, (body["eventType"], body["headerId"], raw.decode()))
        row = cur.fetchone()
        assert row is not None
        cur.execute(FOLDER, (data["planFolderId"],))
        cur.execute(PLAN, (data["planId"], data["planFolderId"]))
        record = data.get("after") or data.get("before") or {}
        color = record.get("Color") or {}
        full = "Timelines" in record
        cur.execute(
            STYLE,
            (
                record["Id"],
                data["planId"],
                body["headerId"],
                body["headerNumber"],
                body["headerName"],
                color.get("_id"),
                color.get("suggested_name"),
                at,
                _json(record) if full else None,
            ),
        )
        if body["eventType"] == "OnChange":
            schema = data["timeLineSchema"]
            cur.execute(
                TEMPLATE,
                (
                    schema["Id"],
                    schema.get("TaskDescription"),
                    schema.get("ShortDescription"),
                    schema.get("Department"),
                    schema.get("Page"),
                    _json(schema),
                ),
            )
            _milestone(cur, data["after"]["TimeLineItem"], record["Id"], at)
        else:
            for item in record.get("Timelines") or []:
                _milestone(cur, item, record["Id"], at)
            if body["eventType"] == "OnDelete":
                cur.execute(RETIRE, (at, record["Id"]))
        cur.execute(DONE, (row[0],))


def run(url: str, bodies: Sequence[bytes], connections: int = 1) -> dict[str, Any]:
    """Apply `bodies` the reference way over `connections` connections (each takes every
    `connections`-th body, in order); events/s from the first statement to the last commit."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA)
    conns = [psycopg.connect(url, autocommit=True) for _ in range(connections)]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for raw in bodies[i::connections]:
                apply_one(conns[i], raw)
        except BaseException as exc:  # reported below: a silent thread would skew the figure
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(connections)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    for c in conns:
        c.close()
    if errors:
        raise RuntimeError(f"the reference apply failed: {errors[0]!r}") from errors[0]
    with psycopg.connect(url) as conn:
        counted = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'applied') FROM reference.beproduct_sync_log"
        ).fetchone()
    return {
        "events": len(bodies),
        "applied": counted[0] if counted else 0,
        "connections": connections,
        "seconds": round(seconds, 2),
        "events_per_s": round(len(bodies) / seconds, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=os.environ.get("DATABASE_URL"))
    p.add_argument("--events", type=int, default=6000)
    p.add_argument("--kind", choices=("mixed", "create"), default="mixed")
    p.add_argument("--connections", type=int, default=1)
    p.add_argument("--seed", type=int, default=16)
    args = p.parse_args()
    if not args.url:
        p.error("--url or DATABASE_URL is required")
    bodies = [orjson.dumps(b) for b in Stream(seed=args.seed).bodies(args.kind, args.events)]
    name = f"bps_bench_{uuid.uuid4().hex[:8]}_reference"
    with psycopg.connect(args.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    load = os.getloadavg()
    try:
        result = run(make_conninfo(args.url, dbname=name), bodies, args.connections)
    finally:
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(
        json.dumps(
            {
                "benchmark": "reference_pattern",
                "kind": args.kind,
                **result,
                "loadavg_at_start": [round(x, 2) for x in load],
                "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
