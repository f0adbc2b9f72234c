"""The private Docker daemon the container checks are tested against really runs containers."""

from __future__ import annotations

import pytest
from dockerd import DockerDaemon

pytestmark = pytest.mark.xdist_group("dockerd")


def test_a_container_runs_and_is_listed_with_its_labels(dockerd: DockerDaemon) -> None:
    cid = dockerd.run("fixture-probe", "sleep", "30", labels={"com.docker.compose.project": "fixture"})
    try:
        out = dockerd.docker("ps", "--filter", "label=com.docker.compose.project=fixture",
                             "--format", "{{.ID}} {{.Names}} {{.State}}").stdout.decode()
        assert out.split() == [cid[:12], "fixture-probe", "running"]
    finally:
        dockerd.remove("fixture-probe")
    assert dockerd.docker("ps", "-aq").stdout.decode().strip() == ""
