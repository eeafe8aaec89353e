"""Configuration: where the API is and who we are to it.

Precedence, highest first (click's documented order):

1. ``overrides`` — command-line flags. Only ``base_url``, ``hub`` and ``timeout``;
   secrets are never accepted as flags, because flags end up in shell history.
2. The environment: ``BULKPREP_BASE_URL``, ``BULKPREP_HUB``, ``BULKPREP_USER_SECRET``,
   ``BULKPREP_ORG_SECRET``, ``BULKPREP_ELEMENT_TOKEN``, ``BULKPREP_PROFILE``,
   ``BULKPREP_CONFIG``, ``BULKPREP_STATE_DIR``.
3. The config file (TOML): ``BULKPREP_CONFIG`` or ``<user config dir>/bulkprep/config.toml``::

       [default]
       user_secret = "..."
       org_secret = "..."
       element_token = "..."

       [profiles.staging]
       base_url = "https://api.openconnectors.eu3.ext.hana.ondemand.com/elements/api-v2"
       hub = "marketing"
       timeout = [10, 60]          # connect, read seconds (or one number)

   Profiles do not inherit from ``[default]``: a profile that sends requests to
   another host never borrows another host's secrets. The file holds secrets, so
   it must not be readable or writable by group or others (``chmod 600``).
4. Defaults.

This is the only module that reads ``os.environ``; everything else is given a
:class:`Settings`.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import platformdirs

from bulkprep._exceptions import ConfigError

DEFAULT_BASE_URL = "https://api.openconnectors.us2.ext.hana.ondemand.com/elements/api-v2"
DEFAULT_HUB = "marketing"
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 60.0)
DEFAULT_PROFILE = "default"
JOURNAL_FILE = "journal.sqlite3"  # in the state dir

ENV_PREFIX = "BULKPREP_"
_SECRET_KEYS = ("user_secret", "org_secret", "element_token")
_FILE_KEYS = frozenset({"base_url", "hub", "timeout", *_SECRET_KEYS})
_OVERRIDE_KEYS = frozenset({"base_url", "hub", "timeout"})
_HUB_RE = re.compile(r"^[A-Za-z0-9_-]+$")

Timeout = tuple[float, float]


def mask(secret: str | None) -> str:
    """Show that a secret is set without showing it: ``'****'`` or ``'****1a2b'``.

    The last four characters are shown only for long secrets, where they identify
    the value without giving away a useful part of it.
    """
    if not secret:
        return "<unset>"
    return "****" + secret[-4:] if len(secret) >= 16 else "****"


@dataclass(frozen=True, repr=False)
class Credentials:
    """The three secrets of the Open Connectors ``Authorization`` header."""

    user: str
    organization: str
    element: str

    def authorization_header(self) -> str:
        return f"User {self.user}, Organization {self.organization}, Element {self.element}"

    def secrets(self) -> tuple[str, str, str]:
        """The raw values, for redacting them from text that came back from a server."""
        return (self.user, self.organization, self.element)

    def __repr__(self) -> str:
        return (
            f"Credentials(user={mask(self.user)!r}, organization={mask(self.organization)!r}, "
            f"element={mask(self.element)!r})"
        )

    __str__ = __repr__


@dataclass(frozen=True, repr=False)
class Settings:
    """Everything the API client needs. Secrets are masked in ``repr``/``str``."""

    base_url: str = DEFAULT_BASE_URL
    hub: str = DEFAULT_HUB
    user_secret: str | None = None
    org_secret: str | None = None
    element_token: str | None = None
    timeout: Timeout = DEFAULT_TIMEOUT
    profile: str = DEFAULT_PROFILE
    config_path: Path | None = None
    state_dir: Path = field(default_factory=lambda: default_state_dir(env={}))

    @property
    def host(self) -> str:
        """The target, safe to store or show: the base URL without credentials or query."""
        return public_url(self.base_url)

    @property
    def credentials(self) -> Credentials | None:
        """The credentials when all three secrets are set, else ``None``."""
        if self.user_secret and self.org_secret and self.element_token:
            return Credentials(self.user_secret, self.org_secret, self.element_token)
        return None

    def require_credentials(self) -> Credentials:
        """The credentials, or a :class:`ConfigError` that says how to set them."""
        creds = self.credentials
        if creds is not None:
            return creds
        missing = [key for key in _SECRET_KEYS if not getattr(self, key)]
        path = self.config_path or default_config_path()
        env_names = ", ".join(ENV_PREFIX + key.upper() for key in _SECRET_KEYS)
        raise ConfigError(
            f"no API credentials (missing: {', '.join(missing)}). Set {env_names}; "
            f"or put user_secret, org_secret and element_token under [default] or "
            f"[profiles.NAME] in {path} (chmod 600 {path}) and pick it with --profile NAME "
            f"or {ENV_PREFIX}PROFILE=NAME; or use --sandbox to try bulkprep against a "
            f"local sandbox without an account."
        )

    @property
    def journal_path(self) -> Path:
        return self.state_dir / JOURNAL_FILE

    def __repr__(self) -> str:
        return (
            f"Settings(base_url={self.host!r}, hub={self.hub!r}, "
            f"user_secret={mask(self.user_secret)!r}, org_secret={mask(self.org_secret)!r}, "
            f"element_token={mask(self.element_token)!r}, timeout={self.timeout!r}, "
            f"profile={self.profile!r}, config_path={self.config_path!r})"
        )

    __str__ = __repr__


def public_url(url: str) -> str:
    """``url`` without user info, query or fragment, and without a trailing slash."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    explicit = env.get(ENV_PREFIX + "CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    return Path(platformdirs.user_config_dir("bulkprep")) / "config.toml"


def default_state_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where the job journal lives: ``BULKPREP_STATE_DIR`` or the user state dir."""
    env = os.environ if env is None else env
    explicit = env.get(ENV_PREFIX + "STATE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    return Path(platformdirs.user_state_dir("bulkprep"))


def load_settings(
    *,
    profile: str | None = None,
    config_path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build :class:`Settings` from overrides, environment, config file and defaults."""
    env = dict(os.environ if env is None else env)
    env = {key: value for key, value in env.items() if value != ""}
    overrides = {key: value for key, value in (overrides or {}).items() if value is not None}
    bad = sorted(set(overrides) - _OVERRIDE_KEYS)
    if bad:
        raise ConfigError(
            f"not accepted as an option: {', '.join(bad)}; secrets are read only from "
            f"{ENV_PREFIX}* environment variables or the config file"
        )

    explicit_path = config_path is not None or ENV_PREFIX + "CONFIG" in env
    path = Path(config_path).expanduser() if config_path is not None else default_config_path(env)
    explicit_profile = profile is not None or ENV_PREFIX + "PROFILE" in env
    profile_name = profile or env.get(ENV_PREFIX + "PROFILE") or DEFAULT_PROFILE

    from_file: dict[str, Any] = {}
    if path.exists():
        from_file = _profile_values(_read_config(path), path, profile_name, explicit_profile)
    elif explicit_path:
        raise ConfigError(f"config file not found: {path}")
    elif explicit_profile and profile_name != DEFAULT_PROFILE:
        raise ConfigError(f"profile {profile_name!r} requested but there is no config file {path}")

    section = "default" if profile_name == DEFAULT_PROFILE else f"profiles.{profile_name}"
    values: dict[str, Any] = dict(from_file)
    sources = {key: f"{path} [{section}] {key}" for key in from_file}
    for key in ("base_url", "hub", *_SECRET_KEYS):
        if ENV_PREFIX + key.upper() in env:
            values[key] = env[ENV_PREFIX + key.upper()]
            sources[key] = ENV_PREFIX + key.upper()
    values.update(overrides)
    sources.update({key: f"option {key}" for key in overrides})

    def source(key: str) -> str:
        return sources.get(key, f"default {key}")

    return Settings(
        base_url=_check_base_url(str(values.get("base_url", DEFAULT_BASE_URL)), source("base_url")),
        hub=_check_hub(str(values.get("hub", DEFAULT_HUB)), source("hub")),
        user_secret=_check_secret(values, "user_secret", source("user_secret")),
        org_secret=_check_secret(values, "org_secret", source("org_secret")),
        element_token=_check_secret(values, "element_token", source("element_token")),
        timeout=_check_timeout(values.get("timeout", DEFAULT_TIMEOUT), source("timeout")),
        profile=profile_name,
        config_path=path,
        state_dir=default_state_dir(env),
    )


def _read_config(path: Path) -> dict[str, Any]:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    if os.name == "posix" and stat.S_IMODE(mode) & 0o077:
        raise ConfigError(
            f"config file {path} holds secrets but other users can access it "
            f"(mode {stat.S_IMODE(mode):03o}); run: chmod 600 {path}"
        )
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc


def _profile_values(data: dict[str, Any], path: Path, name: str, explicit: bool) -> dict[str, Any]:
    for key in data:
        if key not in ("default", "profiles"):
            raise ConfigError(
                f"config file {path}: unknown key {key!r} (expected [default] or [profiles.NAME])"
            )
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"config file {path}: 'profiles' must be a table")
    tables = [("default", data.get("default"))]
    tables += [(f"profiles.{pname}", table) for pname, table in profiles.items()]
    for prefix, table in tables:
        if table is None:
            continue
        if not isinstance(table, dict):
            raise ConfigError(f"config file {path}: [{prefix}] must be a table")
        for key in table:
            if key not in _FILE_KEYS:
                raise ConfigError(
                    f"config file {path}: unknown key {prefix}.{key} "
                    f"(allowed: {', '.join(sorted(_FILE_KEYS))})"
                )
    if name == DEFAULT_PROFILE:
        if "default" in data and "default" in profiles:
            raise ConfigError(
                f"config file {path}: both [default] and [profiles.default]; keep one"
            )
        return dict(data.get("default") or profiles.get("default") or {})
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise ConfigError(f"config file {path}: no profile {name!r} (profiles: {known})")
    return dict(profiles[name])


def _check_base_url(url: str, where: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"base_url must be an http(s) URL, got {public_url(url)!r} (from {where})"
        )
    if "@" in parts.netloc:
        raise ConfigError(
            f"base_url must not contain credentials (from {where}); set the secrets instead"
        )
    return public_url(url.strip())


def _check_hub(hub: str, where: str) -> str:
    if not _HUB_RE.match(hub):
        raise ConfigError(f"hub must be a simple name like 'marketing', got {hub!r} (from {where})")
    return hub


def _check_secret(values: Mapping[str, Any], key: str, where: str) -> str | None:
    value = values.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string (from {where})")
    value = value.strip()
    if any(c.isspace() or not c.isprintable() or c == "," for c in value):
        # It goes into one Authorization header; never echo it in the message.
        raise ConfigError(
            f"{key} (from {where}) contains white space, a comma or a control character; "
            "check that it was copied whole and on one line"
        )
    return value or None


def _check_timeout(value: Any, where: str) -> Timeout:
    try:
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            connect = read = float(value)
        elif isinstance(value, list | tuple) and len(value) == 2:
            connect, read = float(value[0]), float(value[1])
        else:
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigError(
            f"timeout must be seconds or [connect, read] seconds, got {value!r} (from {where})"
        ) from None
    if connect <= 0 or read <= 0:
        raise ConfigError(f"timeout must be positive, got {value!r} (from {where})")
    return (connect, read)


def signature_key(env: Mapping[str, str] | None = None) -> str | None:
    """The callback signature key from ``BULKPREP_SIGNATURE_KEY``, or ``None``.

    It is a secret, so it is read from the environment and never taken as a flag.
    """
    env = os.environ if env is None else env
    return env.get(ENV_PREFIX + "SIGNATURE_KEY") or None
