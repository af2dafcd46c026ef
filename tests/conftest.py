"""pytest configuration shared by every test module."""

from __future__ import annotations

import matplotlib
import pytest

# Headless figures in the test process itself.  Not via MPLBACKEND: kernels
# started by the notebook tests inherit the environment, and must keep the
# inline backend so that executed lessons really draw their figures.
matplotlib.use("Agg")


@pytest.fixture(scope="module")
def proxy_command(tmp_path_factory: pytest.TempPathFactory) -> str:
    """configurable-http-proxy for the hub tests, installed from npm into a temporary folder."""
    # Imported here, not at the top: the helpers' import installs toychat.kernel_wakeup, which
    # only the tests that use them should get.
    from support.hub import configurable_http_proxy

    return configurable_http_proxy(tmp_path_factory.mktemp("chp"))
