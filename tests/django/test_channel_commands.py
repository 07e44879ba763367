"""``manage.py wpm_test_alert`` and ``wpm_config`` with webhook channels (chat_servers)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from tests.chat_servers import DINGTALK_SECRET, DINGTALK_TOKEN, FakeDingTalk, FakeSlack


def test_wpm_test_alert_reports_each_channel(report_dir: Path) -> None:
    with FakeDingTalk(secret=DINGTALK_SECRET) as robot, FakeSlack() as slack:
        wpm = {"ALERT_STORE_URL": "memory://", "LOCAL_OUTPUT_DIR": str(report_dir),
               "DINGTALK_WEBHOOK_URL": robot.url, "DINGTALK_SECRET": DINGTALK_SECRET,
               "SLACK_WEBHOOK_URL": slack.url}
        out = StringIO()
        with override_settings(WPM=wpm):
            call_command("wpm_test_alert", stdout=out)
            config = StringIO()
            call_command("wpm_config", json=True, stdout=config)
        assert {"dingtalk: ok", "slack: ok", "local_file: ok"} <= set(
            out.getvalue().splitlines())
        assert len(robot.accepted) == 1 and len(slack.accepted) == 1
        shown = json.loads(config.getvalue())
        assert shown["DINGTALK_SECRET"] == "********"
        assert DINGTALK_TOKEN not in config.getvalue()
        robot.secret = "SECanother-secret-entirely"  # the robot's secret was reset
        out = StringIO()
        with override_settings(WPM=wpm), pytest.raises(CommandError) as info:
            call_command("wpm_test_alert", stdout=out)
        assert "dingtalk: FAILED" in out.getvalue()
        assert "errcode 310000" in str(info.value)
        for secret in (DINGTALK_SECRET, DINGTALK_TOKEN):
            assert secret not in str(info.value) and secret not in out.getvalue()
