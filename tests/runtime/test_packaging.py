"""pip brings onnxruntime only where it has wheels: the base dependency's environment marker,
evaluated for each platform as pip would."""

from __future__ import annotations

import pytest
import tomllib
from packaging.requirements import Requirement

from tests.conftest import REPO


def _onnxruntime() -> Requirement:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return next(r for r in map(Requirement, project["dependencies"]) if r.name == "onnxruntime")


# (sys_platform, platform_machine): where onnxruntime publishes wheels, and where it does not.
WHEELS = "linux x86_64, linux aarch64, darwin arm64, darwin x86_64, win32 AMD64, win32 ARM64"
NO_WHEELS = "linux armv7l, linux armv6l, linux riscv64, linux ppc64le, linux s390x, linux i686"
PLATFORMS = {tuple(p.split()): True for p in WHEELS.split(", ")} | {
    tuple(p.split()): False for p in NO_WHEELS.split(", ")
}


@pytest.mark.parametrize(("system", "machine"), sorted(PLATFORMS))
def test_onnxruntime_is_a_dependency_only_where_it_has_wheels(system, machine):
    marker = _onnxruntime().marker
    assert marker is not None
    wanted = marker.evaluate({"sys_platform": system, "platform_machine": machine})
    assert wanted == PLATFORMS[(system, machine)]


def test_numpy_is_a_dependency_everywhere():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    numpy = next(r for r in map(Requirement, project["dependencies"]) if r.name == "numpy")
    assert numpy.marker is None
