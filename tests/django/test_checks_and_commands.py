"""System checks (exact ids, through call_command("check")) and the management commands."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError
from django.test import override_settings

from django_wpm.checks import MIDDLEWARE_PATH, check_settings
from tests.mattermost_server import CHANNEL, TOKEN, FakeMattermost

OK = {"ALERT_STORE_URL": "memory://"}


def ids(**settings: object) -> list[str]:
    with override_settings(**settings):
        return [message.id for message in check_settings()]


def test_valid_settings_pass(report_dir: Path) -> None:
    assert ids(WPM={**OK, "LOCAL_OUTPUT_DIR": str(report_dir)}) == []
    call_command("check", stdout=StringIO())


@pytest.mark.parametrize("wpm, expected", [
    ({"THRESHOLD_SECONDS": -1}, ["django_wpm.E001"]),
    ({"THRESHOLD_SECONDS": "soon", "LOG_LEVEL": "LOUD"}, ["django_wpm.E001", "django_wpm.E001"]),
    ({"URL_BLACKLIST": ["/ok", "(bad"]}, ["django_wpm.E001"]),
    ({"TRESHOLD_SECONDS": 1}, ["django_wpm.E002"]),
    ({"ENABLE_MATTERMOST": True}, ["django_wpm.E003"]),
])
def test_bad_settings_give_stable_ids(wpm: dict[str, object], expected: list[str],
                                      report_dir: Path) -> None:
    assert ids(WPM={**OK, "LOCAL_OUTPUT_DIR": str(report_dir), **wpm}) == expected


def test_unknown_key_hint_and_invalid_value_message(report_dir: Path) -> None:
    with override_settings(WPM={"TRESHOLD_SECONDS": 1, "LOCAL_OUTPUT_DIR": str(report_dir)}):
        [unknown] = check_settings()
    assert unknown.hint == "Did you mean 'THRESHOLD_SECONDS'?"
    with override_settings(WPM={"THRESHOLD_SECONDS": -1, "LOCAL_OUTPUT_DIR": str(report_dir)}):
        [invalid] = check_settings()
    assert invalid.msg == 'settings.WPM["THRESHOLD_SECONDS"] is invalid.'
    assert "Expected a number >= 0" in invalid.hint


def test_not_a_dict() -> None:
    assert ids(WPM=["THRESHOLD_SECONDS"]) == ["django_wpm.E004"]


def test_middleware_missing_or_not_first(report_dir: Path) -> None:
    wpm = {**OK, "LOCAL_OUTPUT_DIR": str(report_dir)}
    assert ids(WPM=wpm, MIDDLEWARE=[]) == ["django_wpm.E005"]
    assert ids(WPM=wpm, MIDDLEWARE=["django.middleware.common.CommonMiddleware",
                                    MIDDLEWARE_PATH]) == ["django_wpm.W002"]


def test_unwritable_output_dir_is_a_warning(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert ids(WPM={"LOCAL_OUTPUT_DIR": str(blocker / "reports")}) == ["django_wpm.W001"]


def test_manage_py_check_fails_on_errors(report_dir: Path) -> None:
    with override_settings(WPM={"THRESHOLD_SECONDS": -1, "LOCAL_OUTPUT_DIR": str(report_dir)}):
        with pytest.raises(SystemCheckError, match=r"django_wpm\.E001"):
            call_command("check", stdout=StringIO(), stderr=StringIO())


def test_wpm_config_command_masks_the_token(report_dir: Path) -> None:
    out = StringIO()
    with override_settings(WPM={**OK, "LOCAL_OUTPUT_DIR": str(report_dir),
                                "MATTERMOST_TOKEN": "cmd-secret-token"}):
        call_command("wpm_config", json=True, stdout=out)
    shown = json.loads(out.getvalue())
    assert shown["MATTERMOST_TOKEN"] == "********"
    assert shown["LOCAL_OUTPUT_DIR"] == str(report_dir)
    assert "cmd-secret-token" not in out.getvalue()


def test_wpm_test_alert_command(report_dir: Path) -> None:
    with FakeMattermost() as server:
        out = StringIO()
        wpm = {**OK, "LOCAL_OUTPUT_DIR": str(report_dir), "ENABLE_MATTERMOST": True,
               "MATTERMOST_SERVER_URL": server.url, "MATTERMOST_TOKEN": TOKEN,
               "MATTERMOST_CHANNEL_ID": CHANNEL}
        with override_settings(WPM=wpm):
            call_command("wpm_test_alert", stdout=out)
        assert "mattermost: ok" in out.getvalue()
        assert "test alert" in server.posts[0]["message"]
        server.mode = "401"
        out = StringIO()
        with override_settings(WPM=wpm), pytest.raises(CommandError) as info:
            call_command("wpm_test_alert", stdout=out)
        assert "mattermost: FAILED" in out.getvalue()
        assert TOKEN not in str(info.value) and TOKEN not in out.getvalue()


def test_environment_applies_below_settings(report_dir: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from django_wpm.conf import load_config

    monkeypatch.setenv("WPM_ALERT_WINDOW_DAYS", "2")
    monkeypatch.setenv("WPM_THRESHOLD_SECONDS", "9")  # settings.WPM sets 0.5: that wins
    with override_settings(WPM={**OK, "THRESHOLD_SECONDS": 0.5}):
        config = load_config()
    assert (config.alert_window_days, config.threshold_seconds) == (2.0, 0.5)


def test_bad_environment_variable_is_a_check_error_naming_it(
        report_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WPM_ALERT_WINDOW_DAYS", "abc")
    with override_settings(WPM={**OK, "LOCAL_OUTPUT_DIR": str(report_dir)}):
        [message] = check_settings()
    assert message.id == "django_wpm.E001"
    assert message.msg.startswith("WPM_ALERT_WINDOW_DAYS: expected a number >= 0")
