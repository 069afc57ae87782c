"""Fixtures for the Graph emulator: a fresh in-process emulator per test and clients for it."""

from __future__ import annotations

import httpx
import pytest

from notes2m365.emulator import BackgroundEmulator, EmulatorConfig

JANE = "jane.doe@acme.example"
JOHN = "john.smith@acme.example"


@pytest.fixture
def config() -> EmulatorConfig:
    """Override in a test module (or modify in the test before using `emulator`) to change limits."""
    return EmulatorConfig()


@pytest.fixture(scope="session")
def _server():
    with BackgroundEmulator() as server:
        yield server


@pytest.fixture
def emulator(_server: BackgroundEmulator, config: EmulatorConfig) -> BackgroundEmulator:
    """The session's server, now serving a fresh emulator built from ``config``."""
    return _server.reset(config)


@pytest.fixture
def graph(emulator) -> httpx.Client:
    """Raw HTTP client with a bearer token, base URL .../v1.0."""
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": "Bearer test-token"},
                      timeout=30) as client:
        yield client


@pytest.fixture
def anon(emulator) -> httpx.Client:
    """Client without Authorization (upload URLs, rejection tests); absolute URLs work too."""
    with httpx.Client(base_url=emulator.base_url, timeout=30) as client:
        yield client


def error_code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]
