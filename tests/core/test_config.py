"""Configuration: defaults, every source, and errors that name the key and the expected form."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from web_performance_monitor import Config, ConfigError, PerformanceMonitor
from web_performance_monitor.config import default_output_dir


def test_defaults_are_the_original_products() -> None:
    config = Config()
    assert config.threshold_seconds == 1.0
    assert config.alert_window_days == 10
    assert config.max_performance_overhead == 0.05
    assert config.enable_local_file is True
    assert config.local_output_dir == default_output_dir()  # per user (issue 14)
    assert config.enable_mattermost is False
    assert config.mattermost_server_url is None
    assert config.url_blacklist == []
    assert config.enable_url_blacklist is True
    assert config.log_level == "INFO"
    assert config.alert_store_url is None


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


def test_from_env_parses_every_kind_of_value() -> None:
    config = Config.from_env({
        "WPM_THRESHOLD_SECONDS": "2.5",
        "WPM_ALERT_WINDOW_DAYS": "7",
        "WPM_ENABLE_LOCAL_FILE": "off",
        "WPM_URL_BLACKLIST": "/api/legacy/.*, /health",
        "WPM_LOG_LEVEL": "warning",
        "WPM_ALERT_STORE_URL": "memory://",
        "OTHER": "ignored",
    })
    assert config.threshold_seconds == 2.5
    assert config.alert_window_days == 7
    assert config.enable_local_file is False
    assert config.url_blacklist == ["/api/legacy/.*", "/health"]
    assert config.log_level == "WARNING"


def test_env_list_may_be_json_for_patterns_with_commas() -> None:
    config = Config.from_env({"WPM_URL_BLACKLIST": '["/a{1,3}", "/b"]'})
    assert config.url_blacklist == ["/a{1,3}", "/b"]


@pytest.mark.parametrize("word, expected", [
    ("true", True), ("1", True), ("YES", True), ("on", True),
    ("false", False), ("0", False), ("no", False), ("Off", False),
])
def test_env_booleans(word: str, expected: bool) -> None:
    assert Config.from_env({"WPM_ENABLE_URL_BLACKLIST": word}).enable_url_blacklist is expected


@pytest.mark.parametrize("variable, value, expected", [
    ("WPM_THRESHOLD_SECONDS", "fast", "a number >= 0"),
    ("WPM_THRESHOLD_SECONDS", "-1", "a number >= 0"),
    ("WPM_ENABLE_MATTERMOST", "maybe", "true/false"),
    ("WPM_LOG_LEVEL", "LOUD", "DEBUG, INFO"),
    ("WPM_ALERT_STORE_URL", "ftp://x", "redis://"),
    ("WPM_URL_BLACKLIST", "/ok,/bad(", "invalid regular expression '/bad('"),
    ("WPM_MAX_BODY_BYTES", "1.5", "an integer"),
])
def test_env_errors_name_the_variable_and_the_form(variable: str, value: str,
                                                   expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        Config.from_env({variable: value})
    assert info.value.key == variable
    assert str(info.value).startswith(variable)
    assert expected in str(info.value)


def test_unknown_env_variable_is_reported_with_a_hint() -> None:
    with pytest.raises(ConfigError) as info:
        Config.from_env({"WPM_THRESHOLD_SECOND": "1"})
    assert str(info.value) == ("WPM_THRESHOLD_SECOND: unknown configuration key; "
                               "did you mean WPM_THRESHOLD_SECONDS?")


def test_code_typo_hint_is_in_the_code_form() -> None:
    with pytest.raises(ConfigError) as info:
        Config(threshold_secnds=1)
    assert str(info.value) == ("threshold_secnds: unknown configuration key; "
                               "did you mean 'threshold_seconds'?")


def test_from_env_takes_overrides_from_code() -> None:
    config = Config.from_env({"WPM_THRESHOLD_SECONDS": "2.5", "WPM_ALERT_WINDOW_DAYS": "1"},
                             threshold_seconds=0.3)
    assert (config.threshold_seconds, config.alert_window_days) == (0.3, 1.0)


@pytest.mark.parametrize("kwargs, key", [
    ({"threshold_seconds": "1"}, "threshold_seconds"),
    ({"threshold_seconds": -0.5}, "threshold_seconds"),
    ({"enable_local_file": 1}, "enable_local_file"),
    ({"url_blacklist": "/health"}, "url_blacklist"),
    ({"mattermost_server_url": "chat.example.com"}, "mattermost_server_url"),
    ({"log_level": "verbose"}, "log_level"),
    ({"thresold_seconds": 1}, "thresold_seconds"),
])
def test_code_values_are_checked_strictly(kwargs: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        Config(**kwargs)  # type: ignore[arg-type]
    assert info.value.key == key


@pytest.mark.parametrize("missing", ["mattermost_server_url", "mattermost_token",
                                     "mattermost_channel_id"])
def test_enabled_mattermost_needs_server_token_and_channel(missing: str) -> None:
    values = {"enable_mattermost": True, "mattermost_server_url": "https://chat.example.com",
              "mattermost_token": "tok-secret-1234", "mattermost_channel_id": "chan"}
    values[missing] = None  # type: ignore[assignment]
    with pytest.raises(ConfigError, match=f"^{missing}: required when enable_mattermost"):
        Config(**values)  # type: ignore[arg-type]


def test_secret_does_not_appear_in_errors_or_repr() -> None:
    with pytest.raises(ConfigError) as info:
        Config(mattermost_token=12345678)  # type: ignore[arg-type]
    assert "12345678" not in str(info.value)
    config = Config(mattermost_token="very-secret-token")
    assert "very-secret-token" not in repr(config)
    assert "very-secret-token" not in json.dumps(config.as_dict())


def test_from_mapping_is_case_insensitive_with_optional_prefix() -> None:
    config = Config.from_mapping({"WPM_THRESHOLD_SECONDS": 3, "Log_Level": "DEBUG"})
    assert config.threshold_seconds == 3.0
    assert config.log_level == "DEBUG"


def test_from_file_toml_table_and_top_level(tmp_path: Path) -> None:
    table = tmp_path / "wpm.toml"
    table.write_text('[wpm]\nthreshold_seconds = 2.0\nurl_blacklist = ["/health"]\n')
    assert Config.from_file(table).url_blacklist == ["/health"]
    top = tmp_path / "top.toml"
    top.write_text("threshold_seconds = 0.5\n")
    assert Config.from_file(top).threshold_seconds == 0.5


def test_from_file_json_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "wpm.json"
    good.write_text(json.dumps({"alert_window_days": 3}))
    assert Config.from_file(good).alert_window_days == 3
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"alert_window_days": "soon"}))
    with pytest.raises(ConfigError, match=r"bad\.json: alert_window_days: expected a number"):
        Config.from_file(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        Config.from_file(tmp_path / "missing.toml")


def test_blacklist_is_a_full_match_on_path_or_route() -> None:
    config = Config(url_blacklist=["/health", "/api/legacy/.*", r".*\.(css|js)"])
    assert config.is_url_blacklisted("/health")
    assert not config.is_url_blacklisted("/healthz")
    assert config.is_url_blacklisted("/api/legacy/old/function")
    assert config.is_url_blacklisted("/static/app.js")
    assert config.is_url_blacklisted("/health?verbose=1")
    assert config.is_url_blacklisted("/users/7", route="/health")


def test_blacklist_can_be_changed_and_switched_off() -> None:
    config = Config()
    config.add_blacklist_url("/api/temp/.*")
    assert config.is_url_blacklisted("/api/temp/x")
    assert config.remove_blacklist_url("/api/temp/.*")
    assert not config.is_url_blacklisted("/api/temp/x")
    with pytest.raises(ConfigError, match="invalid regular expression"):
        config.add_blacklist_url("(")
    config = Config(url_blacklist=["/health"], enable_url_blacklist=False)
    assert not config.is_url_blacklisted("/health")


def test_whitelist_limits_alerts_to_matching_endpoints() -> None:
    config = Config(url_whitelist=["/api/.*"], enable_url_whitelist=True,
                    url_blacklist=["/api/health"])
    assert config.is_url_alertable("/api/orders")
    assert not config.is_url_alertable("/admin")
    assert not config.is_url_alertable("/api/health")


def test_update_config_validates_and_keeps_old_config_on_error(report_dir: Path) -> None:
    monitor = PerformanceMonitor(Config(local_output_dir=str(report_dir),
                                        alert_store_url="memory://"))
    try:
        monitor.update_config(threshold_seconds=3.0, enable_mattermost=False)
        assert monitor.config.threshold_seconds == 3.0
        with pytest.raises(ConfigError, match="threshold_seconds"):
            monitor.update_config(threshold_seconds=-1)
        with pytest.raises(ConfigError, match="nonsense"):
            monitor.update_config(nonsense=1)
        assert monitor.config.threshold_seconds == 3.0
    finally:
        monitor.close()
