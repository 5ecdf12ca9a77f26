"""Per-site profiles: optional selectors and date settings, kept as TOML data.

A profile only adds to the generic path: body selectors that win over the scorer when they
match, subtrees to drop first, where the date is printed and in which zone.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_DIR = Path(__file__).with_name("profiles")


@dataclass(frozen=True, slots=True)
class SiteProfile:
    name: str
    hosts: tuple[str, ...]
    body: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    date: tuple[str, ...] = ()
    timezone: str | None = None


@cache
def load_profiles(directory: Path = _DIR) -> dict[str, SiteProfile]:
    """Host → profile for every ``*.toml`` in the profile directory."""
    by_host: dict[str, SiteProfile] = {}
    for path in sorted(directory.glob("*.toml")):
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        profile = SiteProfile(
            name=path.stem, hosts=tuple(h.lower() for h in data.get("hosts", [])),
            body=tuple(data.get("body", [])), drop=tuple(data.get("drop", [])),
            date=tuple(data.get("date", [])), timezone=data.get("timezone"))
        for host in profile.hosts:
            by_host[host] = profile
    return by_host


def profile_for(host: str | None) -> SiteProfile | None:
    """The profile of a host or of its parent domain (www.x.com → x.com)."""
    if not host:
        return None
    profiles = load_profiles()
    host = host.lower()
    while host:
        if host in profiles:
            return profiles[host]
        _, _, host = host.partition(".")
    return None
