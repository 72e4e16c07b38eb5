"""Pure parts of the worker: names, settings, faults."""

from __future__ import annotations

import os

import pytest

from beproduct_sync.apply.worker import WorkerConfig, worker_name
from beproduct_sync.bootstrap import policy_from
from beproduct_sync.config import Settings
from beproduct_sync.model.webhook import parse_event
from beproduct_sync.testing.fault_injection import InjectedFault, failing_styles, style_numbers
from tests.helpers.samples import load_sample


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_worker_names_differ_per_loop_and_name_the_process() -> None:

    assert worker_name(0) != worker_name(1)
    assert f":{os.getpid()}:" in worker_name(0)


def test_worker_config_reads_the_worker_settings() -> None:
    config = WorkerConfig.from_settings(
        settings(
            beproduct_sync_batch_size=7,
            beproduct_sync_lease_seconds=3.5,
            beproduct_sync_poll_seconds=0.2,
            beproduct_sync_listen=False,
        )
    )
    assert config == WorkerConfig(batch_size=7, lease_seconds=3.5, poll_seconds=0.2, listen=False)


def test_workers_prepare_statements_only_where_a_session_is_kept_unless_told() -> None:
    # Behind a transaction-mode pooler (LISTEN off) a prepared statement could be run on
    # another server connection than the one that prepared it.
    assert WorkerConfig.from_settings(settings()).prepare is True
    assert WorkerConfig.from_settings(settings(beproduct_sync_listen=False)).prepare is False
    told = settings(beproduct_sync_listen=False, beproduct_sync_prepare=True)
    assert WorkerConfig.from_settings(told).prepare is True
    told = settings(beproduct_sync_prepare=False)
    assert WorkerConfig.from_settings(told).prepare is False


def test_the_fault_hook_raises_only_for_listed_style_numbers() -> None:
    fault = failing_styles(style_numbers(" MSP26O73, ,OTHER "))
    assert fault is not None
    with pytest.raises(InjectedFault, match="MSP26O73"):
        fault(parse_event(load_sample("tracking_oncreate.json")))
    fault(parse_event(load_sample("tracking_onchangetimeline.json")))  # MSP26B30A passes


def test_the_fault_setting_reaches_the_policy_and_is_off_by_default() -> None:
    assert policy_from(settings()).fault is None
    assert policy_from(settings(beproduct_sync_fault_style_numbers="MSP26O73")).fault is not None
