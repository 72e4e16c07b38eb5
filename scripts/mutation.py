#!/usr/bin/env python3
"""Mutation testing: put one realistic bug at a time into the source, run the tests meant to
catch it, put the source back. Prints JSON: how many mutations the tests killed, and which
survived. Not part of CI (it takes many minutes); run it before changing what tests cover.

    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python scripts/mutation.py
    .venv/bin/python scripts/mutation.py --only reconcile-fix-plus-margin --only offset-sign-flipped
    .venv/bin/python scripts/mutation.py --list      # the catalogue, with each mutation's tests
    .venv/bin/python scripts/mutation.py --check     # every patch still applies (fast)

Each mutation is a named text substitution in a file under src/beproduct_sync/ (the text must
occur exactly once), followed by the tests named for it (pytest -x). Killed: a test failed.
Survived: all passed. Error: pytest could not run them (a broken patch, not a kill). The file is
restored afterwards, on Ctrl-C or SIGTERM too; a copy of the original is kept in
.mutation-backup/ while a mutation is in place, so a run killed hard is repaired by the next
one. Property tests run under the `mutation` Hypothesis profile (tests/conftest.py):
derandomized and without the example database, so two runs give the same figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "beproduct_sync"
BACKUP = ROOT / ".mutation-backup"
TIMEOUT_SECONDS = 1200


@dataclass(frozen=True)
class Mutation:
    """A named bug: `old` → `new` in `path` (relative to src/beproduct_sync), and the tests
    written to catch it (pytest node ids or files, relative to tests/)."""

    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    also: tuple[tuple[str, str, str], ...] = ()  # more (path, old, new) edits of the same bug

    @property
    def edits(self) -> tuple[tuple[str, str, str], ...]:
        """Every (path, old, new) of this mutation."""
        return ((self.path, self.old, self.new), *self.also)


# Tests (files or node ids under tests/).
PROPERTY = "integration/test_order_independence.py"
RACES = "integration/test_races.py"
EXACT = "integration/test_apply_exact_values.py"
TIMES = "unit/model/test_times.py"
ROWS = "unit/model/test_rows.py"
FROM_WEBHOOK = "unit/model/test_from_webhook.py"
WRITER = "integration/test_apply_writer.py"
SERVICE = "integration/test_apply_service.py"
RETRY = "integration/test_apply_retry_replay.py"
HARDENING = "integration/test_inbox_hardening.py"
WORKER = "integration/test_apply_worker.py"
API = "integration/test_api_backfill_reconcile.py"
RECEIVE = "integration/test_web_receive.py"
WEB_ERRORS = "integration/test_web_errors.py"
WEB_AUTH = "integration/test_web_auth.py"
AUTH = "unit/web/test_auth.py"
REPLAY_STALE = f"{EXACT}::test_a_replayed_event_is_stale_and_writes_nothing"
ONCREATE = f"{EXACT}::test_every_column_an_oncreate_writes_has_its_exact_value"
ONCHANGE = f"{EXACT}::test_every_column_an_onchange_for_an_unknown_style_writes_has_its_exact_value"
ONDELETE = f"{EXACT}::test_an_ondelete_records_the_exact_deletion_time_and_its_record"
API_ROW = f"{EXACT}::test_every_column_an_api_row_writes_has_its_exact_value"
ROW_EDIT = f"{EXACT}::test_a_row_edit_wins_only_the_fields_it_carries_whatever_the_order"
PLACEHOLDER = (
    f"{EXACT}::test_a_placeholder_keeps_the_newest_onchange_record_until_a_create_replaces_it"
)
ZONES = f"{EXACT}::test_calendar_days_follow_the_configured_zone_while_instants_stay_exact"
LEASE_MID_APPLY = (
    f"{RACES}::test_a_lease_that_runs_out_mid_apply_lets_no_second_worker_claim_or_apply_the_events"
)
LEASE_STALLED = (
    f"{RACES}::test_a_lease_that_ran_out_while_its_worker_was_stalled_passes_to_another_worker"
)
RECONCILE_RACE = f"{API}::test_a_webhook_landing_during_a_reconcile_fix_pass_keeps_its_newer_state"
STYLE_ADDED_DURING_FIX = (
    f"{API}::test_a_style_added_during_a_reconcile_fix_pass_is_not_retired_by_it"
)
RE_ADDED_DURING_FIX = f"{API}::test_a_style_re_added_while_a_fix_pass_retires_it_stays_active"
CONCURRENT_CLAIMS = (
    f"{RACES}::test_two_workers_claiming_at_once_take_disjoint_batches"
    "_without_waiting_and_apply_once"
)

CATALOGUE: tuple[Mutation, ...] = (
    # --- The bugs of issue 15's table, each killed by the test written to catch it. ---
    # The clock-skew margin added instead of subtracted. Reconcile's fix is now versioned one
    # tick after each API row's modifiedAt, and the margin only dates the listing: a style a
    # webhook created up to a minute after the listing counts as `extra`, and its retirement
    # (versioned at the listing time) beats the webhook's create.
    Mutation(
        "reconcile-fix-plus-margin",
        "api/reconcile.py",
        "listed_at = time.time_ns() // 100 - margin",
        "listed_at = time.time_ns() // 100 + margin",
        (STYLE_ADDED_DURING_FIX,),
    ),
    Mutation(
        "lock-owned-without-for-update",
        "sql/log_lock_owned.sql",
        "\nFOR UPDATE",
        "",
        (LEASE_MID_APPLY,),
    ),
    Mutation(
        "due-at-from-project-date",
        "model/from_webhook.py",
        '"due_at": iso(m.due),',
        '"due_at": iso(m.project),',
        (ONCREATE,),
    ),
    Mutation(
        "offset-minutes-read-as-seconds",
        "model/times.py",
        "int(digits[2:]) * 60",
        "int(digits[2:])",
        (
            f"{TIMES}::test_offsets_with_minutes_and_odd_offsets_parse_to_the_exact_instant",
            ONCREATE,
        ),
    ),
    Mutation(
        "claim-without-skip-locked",
        "sql/worker_claim.sql",
        "FOR UPDATE OF t SKIP LOCKED",
        "FOR UPDATE OF t",
        (CONCURRENT_CLAIMS,),
    ),
    Mutation(
        "equal-version-is-newer-milestones",
        "sql/apply_milestones.sql",
        "WHERE excluded.source_version > coalesce(t.source_version, -1)",
        "WHERE excluded.source_version >= coalesce(t.source_version, -1)",
        (REPLAY_STALE,),
    ),
    Mutation(
        "equal-version-is-newer-records",
        "sql/apply_record.sql",
        "WHERE excluded.header_version > coalesce(t.header_version, -1)",
        "WHERE excluded.header_version >= coalesce(t.header_version, -1)",
        (REPLAY_STALE,),
    ),
    Mutation(
        "equal-version-is-newer-definitions",
        "sql/apply_templates.sql",
        "WHERE excluded.source_version > coalesce(t.source_version, -1)",
        "WHERE excluded.source_version >= coalesce(t.source_version, -1)",
        (REPLAY_STALE,),
    ),
    Mutation(
        "empty-status-text-warns",
        "model/rows.py",
        "if status is None and label is not None and label.strip():",
        "if status is None and label is not None:",
        (
            f"{ROWS}::test_an_empty_status_text_adds_no_warning",
            f"{EXACT}::test_an_unknown_status_warns_once_and_an_empty_status_never_warns",
        ),
    ),
    # --- Killed by the property test on its own (the reference model). ---
    Mutation(
        "oldest-write-wins-milestones",
        "sql/apply_milestones.sql",
        "WHERE excluded.source_version > coalesce(t.source_version, -1)",
        "WHERE excluded.source_version < coalesce(t.source_version, 1e40)",
        (PROPERTY,),
    ),
    Mutation(
        "oldest-write-wins-lifecycle",
        "sql/apply_record.sql",
        "active             = CASE WHEN excluded.lifecycle_version > "
        "coalesce(t.lifecycle_version, -1)",
        "active             = CASE WHEN excluded.lifecycle_version < "
        "coalesce(t.lifecycle_version, 1e40)",
        (PROPERTY,),
        also=(
            (
                "sql/apply_record.sql",
                "deleted_at         = CASE WHEN excluded.lifecycle_version > "
                "coalesce(t.lifecycle_version, -1)",
                "deleted_at         = CASE WHEN excluded.lifecycle_version < "
                "coalesce(t.lifecycle_version, 1e40)",
            ),
            (
                "sql/apply_record.sql",
                "   OR excluded.lifecycle_version > coalesce(t.lifecycle_version, -1)\n",
                "   OR excluded.lifecycle_version < coalesce(t.lifecycle_version, 1e40)\n",
            ),
        ),
    ),
    Mutation(
        "version-not-ordered-by-time-first",
        "model/rows.py",
        'return str(time.ticks * 1_000_000 + int.from_bytes(body_digest[:4], "big") % 1_000_000)',
        'return str(int.from_bytes(body_digest[:4], "big") % 1_000_000 * 10**20 + time.ticks)',
        (PROPERTY,),
    ),
    # A record-group field (the colour is a group of its own since) following the header
    # version: a newer OnChange, which carries no modification time, blanks the OnCreate's.
    Mutation(
        "record-group-follows-the-header-version",
        "sql/apply_record.sql",
        "modified_at        = CASE WHEN excluded.record_version > coalesce(t.record_version, -1)",
        "modified_at        = CASE WHEN excluded.header_version > coalesce(t.header_version, -1)",
        (PROPERTY,),
    ),
    # The colour, size and supplier groups (versioned on their own, so that an OnChange from
    # BeProduct's Edit API updates the fields it carries and nothing else).
    Mutation(
        "size-follows-the-record-version",
        "sql/apply_record.sql",
        "size               = CASE WHEN excluded.size_version > coalesce(t.size_version, -1)",
        "size               = CASE WHEN excluded.record_version > coalesce(t.record_version, -1)",
        (ROW_EDIT, PROPERTY),
    ),
    Mutation(
        "onchange-claims-record-fields-it-does-not-carry",
        "model/from_webhook.py",
        'return color, "Size" in raw, supplier',
        "return True, True, True",
        (ROW_EDIT, PROPERTY),
    ),
    Mutation(
        "row-edit-colour-ignored",
        "model/from_webhook.py",
        'color = "Color" in raw and (raw["Color"] is None or isinstance(raw["Color"], dict))',
        "color = False",
        (ROW_EDIT, PROPERTY),
    ),
    Mutation(
        "placeholder-raw-payload-never-replaced",
        "sql/apply_record.sql",
        "                            WHEN t.record_version IS NULL AND excluded.header_version"
        " > coalesce(t.header_version, -1) THEN excluded.raw_payload\n",
        "",
        (PLACEHOLDER, PROPERTY),
    ),
    Mutation(
        "source-updated-at-of-the-last-arrival",
        "sql/apply_record.sql",
        "source_updated_at  = greatest(t.source_updated_at, excluded.source_updated_at),",
        "source_updated_at  = excluded.source_updated_at,",
        (PROPERTY,),
    ),
    Mutation(
        "header-gap-never-filled-by-an-older-event",
        "sql/apply_record.sql",
        "ELSE coalesce(t.company_id, excluded.company_id) END,",
        "ELSE t.company_id END,",
        (PROPERTY,),
        also=(
            (
                "sql/apply_record.sql",
                "   OR (t.company_id IS NULL AND excluded.company_id IS NOT NULL)\n",
                "",
            ),
        ),
    ),
    Mutation(
        "stale-events-add-their-assignees",
        "sql/apply_milestones.sql",
        "FROM x JOIN up ON up.id = x.id, jsonb_array_elements(x.assignees) AS a",
        "FROM x, jsonb_array_elements(x.assignees) AS a",
        (PROPERTY,),
    ),
    Mutation(
        "removed-assignees-kept",
        "sql/apply_milestones.sql",
        "    WHERE d.timeline_id = up.id\n",
        "    WHERE d.timeline_id = up.id AND false\n",
        (f"{WRITER}::test_a_change_replaces_the_assignment_set", PROPERTY),
    ),
    Mutation(
        "milestone-keeps-its-first-source-time",
        "sql/apply_milestones.sql",
        "        source_updated_at = excluded.source_updated_at,",
        "        source_updated_at = t.source_updated_at,",
        (PROPERTY,),
    ),
    Mutation(
        "definition-name-never-updated",
        "sql/apply_templates.sql",
        "    name = excluded.name,",
        "    name = t.name,",
        (PROPERTY,),
    ),
    Mutation(
        "batch-keeps-the-older-definition",
        "apply/writer.py",
        'if known is None or int(version) > int(known["source_version"] or -1):',
        'if known is None or int(version) < int(known["source_version"] or -1):',
        (f"{SERVICE}::test_a_batch_carrying_one_definition_twice_keeps_the_newer_definition",),
    ),
    # --- Mapping: webhooks. ---
    Mutation(
        "plan-date-from-due-date",
        "model/from_webhook.py",
        '"plan_date": calendar_date(m.project, zone),',
        '"plan_date": calendar_date(m.due, zone),',
        (ONCREATE,),
    ),
    Mutation(
        "final-date-from-rev",
        "model/from_webhook.py",
        '"final_date": calendar_date(m.final, zone),',
        '"final_date": calendar_date(m.rev, zone),',
        (ONCREATE,),
    ),
    Mutation(
        "rev-at-from-final",
        "model/from_webhook.py",
        '"rev_at": iso(m.rev),',
        '"rev_at": iso(m.final),',
        (ONCREATE,),
    ),
    Mutation(
        "onchange-claims-the-record-group",
        "model/from_webhook.py",
        "full = event.event_type != EventType.ON_CHANGE",
        "full = True",
        (ONCHANGE,),
    ),
    Mutation(
        "ondelete-leaves-the-style-active",
        "model/from_webhook.py",
        '"active": event.event_type != EventType.ON_DELETE,',
        '"active": True,',
        (ONDELETE,),
    ),
    Mutation(
        "ondelete-without-deletion-time",
        "model/from_webhook.py",
        '"deleted_at": at if event.event_type == EventType.ON_DELETE else None,',
        '"deleted_at": None,',
        (ONDELETE,),
    ),
    Mutation(
        "color-number-from-the-color-name",
        "model/from_webhook.py",
        '"color_number": color.get("suggested_hex") if has_color else None,',
        '"color_number": color.get("suggested_name") if has_color else None,',
        (ONCREATE,),
    ),
    Mutation(
        "invalid-assignee-not-reported",
        "model/from_webhook.py",
        'notices.append(Notice(mid, f"assignee {p.value!r} has no valid user id"))',
        "pass",
        (ONCREATE,),
    ),
    Mutation(
        "definition-name-from-the-short-description",
        "model/from_webhook.py",
        '"name": s.task_description,',
        '"name": s.short_description,',
        (ONCHANGE,),
    ),
    # --- Mapping: API rows. ---
    Mutation(
        "api-row-version-ignores-modified-at",
        "model/from_rest.py",
        'at = force or lenient_time(row.get("modifiedAt")) or fallback',
        "at = force or fallback",
        (API_ROW,),
    ),
    Mutation(
        "reconcile-fix-versioned-by-modified-at",
        "model/from_rest.py",
        'at = force or lenient_time(row.get("modifiedAt")) or fallback',
        'at = lenient_time(row.get("modifiedAt")) or force or fallback',
        (f"{API}::test_reconcile_finds_each_kind_of_drift_and_fix_removes_it",),
    ),
    Mutation(
        "api-archived-rows-stay-active",
        "model/from_rest.py",
        '"active": not bool(row.get("isArchived")),',
        '"active": True,',
        (PROPERTY,),
    ),
    Mutation(
        "api-late-flag-dropped",
        "model/from_rest.py",
        '"late": m.get("late"),',
        '"late": None,',
        (API_ROW,),
    ),
    Mutation(
        "api-empty-status-kept-as-text",
        "model/from_rest.py",
        'label = _str(m.get("status"))',
        'label = m.get("status")',
        (
            f"{EXACT}::test_an_api_row_with_an_unknown_status_stores_its_warning_and_an_empty_one_none",
        ),
    ),
    Mutation(
        "api-single-supplier-ignored",
        "model/from_rest.py",
        'suppliers = row.get("suppliers") or ([supplier] if supplier else [])',
        'suppliers = row.get("suppliers") or []',
        (API_ROW,),
    ),
    Mutation(
        "api-assignees-from-share-list",
        "model/from_rest.py",
        'assigned = people(m.get("assignedTo") or [])',
        'assigned = people(m.get("shareWith") or [])',
        (API_ROW,),
    ),
    Mutation(
        "api-share-list-not-normalised",
        "model/from_rest.py",
        '"shared_with": people(m.get("shareWith") or []),',
        '"shared_with": m.get("shareWith") or [],',
        (API_ROW,),
    ),
    Mutation(
        "api-warnings-dropped",
        "apply/writer.py",
        "            for n in rows.notices\n",
        "            for n in rows.notices[:0]\n",
        (
            f"{API}::test_unknown_statuses_in_api_rows_are_stored_as_warnings_by_backfill_and_reconcile",
        ),
    ),
    # --- Statuses, people, times, bodies. ---
    Mutation(
        "status-slash-not-ignored",
        "model/rows.py",
        '_STATUS_NOISE = re.compile(r"[\\s\\-_/]+")',
        '_STATUS_NOISE = re.compile(r"[\\s\\-_]+")',
        (ONCREATE,),
    ),
    Mutation(
        "api-people-lose-their-ids",
        "model/rows.py",
        'out.append({"value": name, "code": e.get("code", e.get("id"))})',
        'out.append({"value": name, "code": e.get("code")})',
        (API_ROW,),
    ),
    Mutation(
        "offset-sign-flipped",
        "model/times.py",
        'sign = 1 if zone[0] == "+" else -1',
        'sign = -1 if zone[0] == "+" else 1',
        (TIMES,),
    ),
    Mutation(
        "seventh-fractional-digit-dropped",
        "model/times.py",
        'int(((frac or "") + "0000000")[:7])',
        'int(((frac or "") + "0000000")[:6]) * 10',
        (TIMES,),
    ),
    Mutation(
        "calendar-day-always-utc",
        "model/times.py",
        'SourceTime(ticks, "").datetime.astimezone(zone).date().isoformat()',
        'SourceTime(ticks, "").datetime.date().isoformat()',
        (ZONES,),
    ),
    Mutation(
        "instants-stored-to-the-second",
        "model/times.py",
        'return f"{day}T{clock}.{fraction:06d}+00:00" if fraction else f"{day}T{clock}+00:00"',
        'return f"{day}T{clock}+00:00"',
        (ONCREATE,),
    ),
    Mutation(
        "canonical-form-keeps-key-order",
        "model/body.py",
        "return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)",
        "return orjson.dumps(body)",
        (f"{RECEIVE}::test_the_same_event_with_other_key_order_and_whitespace_is_a_duplicate",),
    ),
    # --- Apply service and inbox SQL. ---
    Mutation(
        "stale-reported-as-applied",
        "apply/service.py",
        "InboxStatus.APPLIED if result.changed_by(p.rows) else InboxStatus.STALE",
        "InboxStatus.APPLIED",
        (REPLAY_STALE,),
    ),
    Mutation(
        "events-no-longer-ours-applied",
        "apply/service.py",
        "mine = [p for p in chunk if p.entry.id in owned]",
        "mine = list(chunk)",
        (f"{SERVICE}::test_rows_another_worker_holds_are_skipped_not_applied", LEASE_STALLED),
    ),
    Mutation(
        "chunks-ignore-repeated-ids",
        "apply/service.py",
        "n = max((last[k] + 1 for k in keys if k in last), default=0)",
        "n = 0",
        ("unit/apply/test_service.py", SERVICE),
    ),
    Mutation(
        "lock-owned-ignores-the-owner",
        "sql/log_lock_owned.sql",
        "ELSE status = 'processing' AND locked_by = %(owner)s::text END",
        "ELSE status = 'processing' END",
        (f"{SERVICE}::test_rows_another_worker_holds_are_skipped_not_applied", LEASE_STALLED),
    ),
    Mutation(
        "expired-leases-never-taken-over",
        "sql/worker_claim.sql",
        "AND (t.status <> 'processing' OR t.locked_until < now() OR t.locked_by = %(worker)s",
        "AND (t.status <> 'processing' OR t.locked_by = %(worker)s",
        (LEASE_STALLED,),
    ),
    Mutation(
        "claims-not-counted",
        "sql/worker_claim.sql",
        "claims = t.claims + CASE WHEN picked.unstarted THEN 0 ELSE 1 END,",
        "claims = t.claims,",
        (RACES,),
    ),
    Mutation(
        "renew-extends-other-workers-leases",
        "sql/worker_renew.sql",
        "WHERE id = ANY(%(ids)s) AND status = 'processing' AND locked_by = %(worker)s",
        "WHERE id = ANY(%(ids)s) AND status = 'processing'",
        (LEASE_STALLED,),
    ),
    Mutation(
        "release-keeps-the-claim",
        "sql/worker_release.sql",
        "claims = greatest(claims - 1, 0)",
        "claims = claims",
        (f"{HARDENING}::test_events_handed_back_unstarted_do_not_count_as_claimed",),
    ),
    Mutation(
        "last-attempt-not-dead-lettered",
        "sql/log_settle.sql",
        "t.attempts + 1 >= x.max_attempts",
        "t.attempts + 1 > x.max_attempts",
        (f"{RETRY}::test_a_failing_event_is_dead_lettered_then_replayed_and_applied",),
    ),
    Mutation(
        "failed-event-retried-without-backoff",
        "sql/log_settle.sql",
        "THEN clock_timestamp() + make_interval(secs => x.retry_in)",
        "THEN clock_timestamp()",
        (f"{RETRY}::test_a_failing_event_waits_out_its_backoff_before_the_next_attempt",),
    ),
    Mutation(
        "settle-leaves-the-lease",
        "sql/log_settle.sql",
        "    locked_until = NULL,\n    locked_by = NULL,\n",
        "    locked_until = NULL,\n",
        (RACES,),
    ),
    Mutation(
        "duplicate-deliveries-not-counted",
        "sql/log_insert_many.sql",
        "deliveries = t.deliveries + 1",
        "deliveries = t.deliveries",
        (
            f"{RECEIVE}::test_a_duplicate_delivery_answers_200_and_keeps_one_row_with_two_deliveries",
        ),
    ),
    Mutation(
        "replay-keeps-the-attempts",
        "sql/replay_reset.sql",
        "    attempts = 0,\n",
        "",
        (f"{RETRY}::test_a_failing_event_is_dead_lettered_then_replayed_and_applied",),
    ),
    Mutation(
        "processed-at-stamped-for-unreadable-dates",
        "sql/log_settle.sql",
        "processed_at = CASE WHEN x.stamp THEN clock_timestamp() END,",
        "processed_at = clock_timestamp(),",
        (
            f"{HARDENING}::test_the_runbook_latency_query_works_after_ingest_settles"
            "_unreadable_dates",
        ),
    ),
    # Replaces "malformed-event-retried-instead-of-dead" (DEAD → FAILED in the same branch),
    # an equivalent mutation: that settlement allows one attempt (Settlement.max_attempts
    # defaults to 1), so log_settle.sql dead-letters a failed one all the same.
    Mutation(
        "malformed-event-not-reported",
        "apply/service.py",
        "                    problems=(Problem(e.entity_id, message),),\n",
        "                    problems=(),\n",
        (f"{WRITER}::test_a_malformed_tracking_event_is_dead_lettered_at_once",),
    ),
    Mutation(
        "webhooks-move-plans-between-folders",
        "sql/apply_plan_folder.sql",
        "WHERE id = %(id)s AND folder_id IS NULL AND",
        "WHERE id = %(id)s AND",
        (f"{WRITER}::test_a_plan_learns_its_folder_once_and_webhooks_never_move_it",),
    ),
    # --- Receiver. ---
    Mutation(
        "duplicate-answered-202",
        "web/app.py",
        "200 if received.duplicate else 202",
        "202",
        (RECEIVE,),
    ),
    Mutation(
        "new-events-not-notified",
        "inbox/log.py",
        "if notify and newest is not None:",
        "if notify and newest is None:",
        (f"{RECEIVE}::test_a_new_event_notifies_the_workers_channel_with_its_id",),
    ),
    Mutation(
        "content-type-not-checked",
        "web/app.py",
        'if media != "application/json":',
        'if media == "text/html":',
        (WEB_ERRORS,),
    ),
    Mutation(
        "streamed-body-cap-doubled",
        "web/app.py",
        "        if size > cap:",
        "        if size > 2 * cap:",
        (
            f"{WEB_ERRORS}::test_a_chunked_body_one_byte_over_the_cap_is_refused"
            "_and_one_at_the_cap_accepted",
        ),
    ),
    Mutation(
        "only-the-last-secret-counts",
        "web/auth.py",
        "matched |= hmac.compare_digest(given, secret)",
        "matched = hmac.compare_digest(given, secret)",
        (WEB_AUTH,),
    ),
    Mutation(
        "any-auth-scheme-accepted",
        "web/auth.py",
        'if scheme.lower() != "bearer" or not token.strip():',
        "if not token.strip():",
        (AUTH,),
    ),
    # --- Reconcile. ---
    # No clock-skew margin on the listing time: with BeProduct's clock behind ours, a style a
    # webhook created just after the listing is dated before it, counts as `extra` and is
    # retired by the same pass.
    Mutation(
        "reconcile-fix-without-skew-margin",
        "api/reconcile.py",
        "listed_at = time.time_ns() // 100 - margin",
        "listed_at = time.time_ns() // 100",
        (STYLE_ADDED_DURING_FIX,),
    ),
    # A retirement versioned at reconcile's snapshot (our clock when the pass began, no margin)
    # instead of the listing time less the margin: a style re-added in BeProduct while the fix
    # pass runs, by a webhook dated before our clock, is retired again.
    Mutation(
        "reconcile-retires-at-the-snapshot-time",
        "api/reconcile.py",
        'version = source_version(SourceTime(max(listed_at, ours.seen + 1), ""), _NO_HASH)',
        'version = source_version(SourceTime(max(snapshot.ticks, ours.seen + 1), ""), _NO_HASH)',
        (RE_ADDED_DURING_FIX,),
    ),
    # The kinds of existence drift swapped (the comparison was rewritten around one `active`
    # test; the old bug, reporting rows active on both sides, has no place to live): a row
    # active in BeProduct and inactive here is reported `extra`, an archived one `inactive`.
    Mutation(
        "reconcile-reports-active-rows-inactive",
        "api/reconcile.py",
        'what = "inactive" if active else "extra"',
        'what = "extra" if active else "inactive"',
        (f"{API}::test_reconcile_finds_each_kind_of_drift_and_fix_removes_it",),
    ),
    Mutation(
        "reconcile-retires-rows-again",
        "api/reconcile.py",
        "if not ours.active or rid in seen:",
        "if rid in seen:",
        (f"{API}::test_reconcile_finds_each_kind_of_drift_and_fix_removes_it",),
    ),
    # The fix versioned at the API row's modifiedAt itself, not one tick after: it ties with
    # the stored data it should replace (written from the same row), so drift is never fixed.
    Mutation(
        "reconcile-fix-not-after-modified-at",
        "api/reconcile.py",
        "force=SourceTime(at.ticks + 1, at.text)",
        "force=SourceTime(at.ticks, at.text)",
        (f"{API}::test_reconcile_finds_each_kind_of_drift_and_fix_removes_it",),
    ),
    # A milestone a webhook changed after the API's read reported as drift, not newer_here.
    Mutation(
        "reconcile-reports-newer-milestones-as-drift",
        "api/reconcile.py",
        'if _ticks(mine["version"]) > at.ticks:',
        "if False:",
        (RECONCILE_RACE,),
    ),
    Mutation(
        "reconcile-ignores-due-dates",
        "api/reconcile.py",
        '"plan_date", "due_date", "rev_date"',
        '"plan_date", "rev_date"',
        (f"{API}::test_reconcile_finds_each_kind_of_drift_and_fix_removes_it",),
    ),
    # The fix writes existence changes (missing, extra, inactive rows) but not milestone drift.
    Mutation(
        "reconcile-fixes-only-retirements",
        "api/reconcile.py",
        "            found.writes.append(_only(forced, to_write))\n",
        "            pass\n",
        (RECONCILE_RACE, f"{API}::test_reconcile_finds_each_kind_of_drift_and_fix_removes_it"),
    ),
)


def restore_backups() -> list[str]:
    """Put back any original a previous, hard-killed run left in .mutation-backup/."""
    restored = []
    if BACKUP.exists():
        for saved in BACKUP.rglob("*"):
            if saved.is_file():
                target = PACKAGE / saved.relative_to(BACKUP)
                shutil.copyfile(saved, target)
                restored.append(str(target.relative_to(ROOT)))
        shutil.rmtree(BACKUP)
    return restored


def check(mutation: Mutation) -> str | None:
    """Why the mutation cannot be applied (None when it can)."""
    for path, old, new in mutation.edits:
        file = PACKAGE / path
        if not file.exists():
            return f"{path}: no such file"
        count = file.read_text().count(old)
        if count != 1:
            return f"{path}: the text to replace occurs {count} times, not once"
        if old == new:
            return f"{path}: the replacement changes nothing"
    for test in mutation.tests:
        if not (ROOT / "tests" / test.split("::")[0]).exists():
            return f"{test}: no such test file"
    return None


class Interrupted(Exception):
    """SIGTERM: stop like Ctrl-C does."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Interrupted


def _end(process: subprocess.Popen[str]) -> None:
    """Kill a test run and everything it started, and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


def run_one(mutation: Mutation, python: str) -> dict[str, Any]:
    """Apply, test, restore: the result of one mutation."""
    originals: dict[Path, str] = {}
    started = time.monotonic()
    try:
        for path, old, new in mutation.edits:
            file = PACKAGE / path
            text = originals.setdefault(file, file.read_text())
            backup = BACKUP / path
            backup.parent.mkdir(parents=True, exist_ok=True)
            if not backup.exists():
                backup.write_text(text)
            file.write_text(file.read_text().replace(old, new, 1))
        command = [
            python,
            "-m",
            "pytest",
            "-x",
            "-q",
            "-p",
            "no:cacheprovider",
            "--hypothesis-profile=mutation",
            *(f"tests/{t}" for t in mutation.tests),
        ]
        # Its own session, so that it (and whatever it started) can be ended as a group when
        # this run is interrupted or the tests time out: no test keeps running on its own.
        tests = subprocess.Popen(  # noqa: S603 - this project's own pytest, fixed arguments
            command,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = tests.communicate(timeout=TIMEOUT_SECONDS)
            lines = (out + err).strip().splitlines()
            code, tail = tests.returncode, lines[-3:]
            failed = [line.split(" - ")[0] for line in lines if line.startswith("FAILED ")]
        except subprocess.TimeoutExpired:
            _end(tests)
            code, tail, failed = 1, [f"timed out after {TIMEOUT_SECONDS} s"], []
        except BaseException:
            _end(tests)
            raise
    finally:
        for file, text in originals.items():
            file.write_text(text)
        shutil.rmtree(BACKUP, ignore_errors=True)
    status = {0: "survived", 1: "killed"}.get(code, "error")
    return {
        "name": mutation.name,
        "status": status,
        "seconds": round(time.monotonic() - started, 1),
        "where": mutation.path,
        "tests": list(mutation.tests),
        **({"killed_by": failed} if status == "killed" else {"output": tail}),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[], help="run only this mutation")
    parser.add_argument("--list", action="store_true", help="print the catalogue and exit")
    parser.add_argument("--check", action="store_true", help="check every patch applies")
    args = parser.parse_args()
    catalogue = CATALOGUE
    names = [m.name for m in catalogue]
    if len(set(names)) != len(names):
        print("duplicate mutation names in the catalogue", file=sys.stderr)
        return 2
    unknown = [n for n in args.only if n not in names]
    if unknown:
        print(f"unknown mutation(s): {', '.join(unknown)}; see --list", file=sys.stderr)
        return 2
    if args.list:
        for m in catalogue:
            print(f"{m.name:44} {m.path:28} {' '.join(m.tests)}")
        return 0
    restored = restore_backups()
    if restored:
        print(f"restored after an earlier interrupted run: {', '.join(restored)}", file=sys.stderr)
    broken = {m.name: why for m in catalogue if (why := check(m)) is not None}
    if broken or args.check:
        print(json.dumps({"mutations": len(catalogue), "broken": broken}, indent=2))
        return 1 if broken else 0
    chosen = [m for m in catalogue if not args.only or m.name in args.only]
    python = str(ROOT / ".venv" / "bin" / "python")
    if not Path(python).exists():
        python = sys.executable
    signal.signal(signal.SIGTERM, _terminate)
    results = []
    started = time.monotonic()
    try:
        for i, mutation in enumerate(chosen, 1):
            print(f"[{i}/{len(chosen)}] {mutation.name} ...", end=" ", flush=True, file=sys.stderr)
            result = run_one(mutation, python)
            print(f"{result['status']} ({result['seconds']} s)", file=sys.stderr)
            results.append(result)
    except (KeyboardInterrupt, Interrupted):
        print("\ninterrupted; the source is restored", file=sys.stderr)
        return 130
    killed = sum(r["status"] == "killed" for r in results)
    report = {
        "mutations": len(results),
        "killed": killed,
        "survived": sum(r["status"] == "survived" for r in results),
        "errors": sum(r["status"] == "error" for r in results),
        "kill_ratio": round(killed / len(results), 3) if results else None,
        "minutes": round((time.monotonic() - started) / 60, 1),
        "survivors": [r for r in results if r["status"] == "survived"],
        "errored": [r for r in results if r["status"] == "error"],
        "results": [
            {k: r[k] for k in ("name", "status", "seconds", "killed_by") if k in r} for r in results
        ],
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    # No bytecode of a mutated module may be cached: a patch of the same size written within
    # the same second as the file it replaced would make a stale .pyc look current.
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    sys.exit(main())
