"""Settings: precedence, profiles, unsafe files, unknown keys, and secrets kept out of sight."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bulkprep._exceptions import ConfigError
from bulkprep.config import (
    DEFAULT_BASE_URL,
    DEFAULT_HUB,
    Credentials,
    Settings,
    load_settings,
    mask,
)

USER = "usr-7d1f0c9a4b"
ORG = "org-55e2aa81b3"
ELEMENT = "element-token-0f9e8d7c6b5a4321"


def write_config(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return write_config(
        tmp_path / "config.toml",
        f"""
[default]
user_secret = "{USER}"
org_secret = "{ORG}"
element_token = "{ELEMENT}"
hub = "crm"

[profiles.staging]
base_url = "https://staging.example.test/elements/api-v2/"
user_secret = "staging-user"
org_secret = "staging-org"
element_token = "staging-element"
timeout = [3, 45]
""",
    )


def test_defaults_without_file_or_env(tmp_path: Path) -> None:
    settings = load_settings(config_path=None, env={"BULKPREP_STATE_DIR": str(tmp_path)})
    assert settings.base_url == DEFAULT_BASE_URL
    assert settings.hub == DEFAULT_HUB
    assert settings.credentials is None
    assert settings.timeout[0] > 0 and settings.timeout[1] > 0
    assert settings.state_dir == tmp_path
    assert settings.journal_path.parent == tmp_path


def test_default_profile_from_file(config_file: Path) -> None:
    settings = load_settings(config_path=config_file, env={})
    assert settings.hub == "crm"
    assert settings.credentials == Credentials(USER, ORG, ELEMENT)
    assert settings.profile == "default"


def test_named_profile_does_not_inherit_default(config_file: Path) -> None:
    settings = load_settings(profile="staging", config_path=config_file, env={})
    assert settings.base_url == "https://staging.example.test/elements/api-v2"
    assert settings.hub == DEFAULT_HUB  # not "crm" from [default]
    assert settings.timeout == (3.0, 45.0)
    assert settings.user_secret == "staging-user"


def test_profile_and_config_from_environment(config_file: Path) -> None:
    env = {"BULKPREP_CONFIG": str(config_file), "BULKPREP_PROFILE": "staging"}
    assert load_settings(env=env).user_secret == "staging-user"


def test_precedence_flag_over_env_over_file(config_file: Path) -> None:
    env = {
        "BULKPREP_CONFIG": str(config_file),
        "BULKPREP_HUB": "env-hub",
        "BULKPREP_BASE_URL": "https://env.example.test/api",
        "BULKPREP_USER_SECRET": "env-user",
    }
    settings = load_settings(env=env)
    assert settings.hub == "env-hub"
    assert settings.base_url == "https://env.example.test/api"
    assert settings.user_secret == "env-user"
    assert settings.org_secret == ORG  # file still fills the rest

    settings = load_settings(env=env, overrides={"hub": "flag-hub", "timeout": 5, "base_url": None})
    assert settings.hub == "flag-hub"
    assert settings.timeout == (5.0, 5.0)
    assert settings.base_url == "https://env.example.test/api"


def test_secrets_are_not_accepted_as_flags(config_file: Path) -> None:
    with pytest.raises(ConfigError, match="user_secret"):
        load_settings(config_path=config_file, env={}, overrides={"user_secret": "x"})


def test_empty_environment_values_are_ignored(config_file: Path) -> None:
    env = {"BULKPREP_CONFIG": str(config_file), "BULKPREP_HUB": "", "BULKPREP_PROFILE": ""}
    assert load_settings(env=env).hub == "crm"


def test_unknown_profile_lists_known_ones(config_file: Path) -> None:
    with pytest.raises(ConfigError, match=r"no profile 'prod' \(profiles: staging\)"):
        load_settings(profile="prod", config_path=config_file, env={})


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o620])
def test_config_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = write_config(tmp_path / "config.toml", '[default]\nhub = "x"\n', mode=mode)
    with pytest.raises(ConfigError) as info:
        load_settings(config_path=path, env={})
    assert f"chmod 600 {path}" in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[default]\nuser_secert = "x"\n', "default.user_secert"),
        ('[profiles.a]\nhost = "x"\n', "profiles.a.host"),
        ('[defaults]\nhub = "x"\n', "'defaults'"),
        ("[default\n", "not valid TOML"),
        ('[default]\ntimeout = "soon"\n', "timeout"),
        ("[default]\ntimeout = [1, 2, 3]\n", "timeout"),
        ('[default]\nbase_url = "ftp://x"\n', "http(s)"),
        ('[default]\nhub = "a b"\n', "hub"),
        ("[default]\nuser_secret = 12\n", "user_secret must be a string"),
    ],
)
def test_bad_config_names_the_file_and_what_is_wrong(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write_config(tmp_path / "config.toml", text)
    with pytest.raises(ConfigError) as info:
        load_settings(config_path=path, env={})
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_missing_explicit_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(env={"BULKPREP_CONFIG": str(tmp_path / "nope.toml")})


def test_base_url_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env={"BULKPREP_BASE_URL": "https://me:hunter2secret@example.test/api"})
    assert "hunter2secret" not in str(info.value)


def test_missing_credentials_message_lists_every_way(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    settings = Settings(user_secret="u", config_path=path)
    assert settings.credentials is None
    with pytest.raises(ConfigError) as info:
        settings.require_credentials()
    message = str(info.value)
    assert "\n" not in message
    for part in (
        "missing: org_secret, element_token",
        "BULKPREP_USER_SECRET",
        "BULKPREP_ORG_SECRET",
        "BULKPREP_ELEMENT_TOKEN",
        str(path),
        "[profiles.NAME]",
        "BULKPREP_PROFILE",
        "--sandbox",
    ):
        assert part in message


def test_secrets_are_masked_everywhere(config_file: Path) -> None:
    settings = load_settings(config_path=config_file, env={})
    creds = settings.require_credentials()
    texts = [repr(settings), str(settings), repr(creds), str(creds), f"{creds}", f"{settings!r}"]
    for text in texts:
        for secret in (USER, ORG, ELEMENT):
            assert secret not in text
    assert creds.authorization_header() == f"User {USER}, Organization {ORG}, Element {ELEMENT}"
    assert repr(creds) == "Credentials(user='****', organization='****', element='****4321')"


def test_mask() -> None:
    assert mask(None) == "<unset>"
    assert mask("short") == "****"
    assert mask("a-much-longer-secret-1a2b") == "****1a2b"


def test_host_drops_user_info_and_query() -> None:
    settings = Settings(base_url="https://x.test/api/?q=1")
    assert settings.host == "https://x.test/api"


@pytest.mark.parametrize("bad", ["abc def", "abc\ndef", "abc,def", "abc\x00def"])
def test_a_secret_that_cannot_go_into_one_header_is_refused_unseen(bad: str) -> None:
    env = {
        "BULKPREP_USER_SECRET": bad + "SECRET123",
        "BULKPREP_ORG_SECRET": "org",
        "BULKPREP_ELEMENT_TOKEN": "elem",
        "BULKPREP_CONFIG": "",
    }
    with pytest.raises(ConfigError) as info:
        load_settings(env=env)
    assert "user_secret" in str(info.value)
    assert "SECRET123" not in str(info.value)
