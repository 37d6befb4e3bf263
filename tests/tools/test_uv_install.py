"""tools/uv_install.py hands pip's configuration on to uv: the sources `make test`'s venv is built
from must be the ones pip would use."""

from __future__ import annotations

import importlib.util
import sys

from tests.conftest import REPO, run_quietly

SCRIPT = REPO / "tools" / "uv_install.py"
# Loaded from its file, as `make` runs it: a script, not a module of an installed package.
_spec = importlib.util.spec_from_file_location("uv_install", SCRIPT)
uv_install = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(uv_install)
pip_settings, uv_arguments, uv_environment = (
    uv_install.pip_settings,
    uv_install.uv_arguments,
    uv_install.uv_environment,
)

LISTING = """\
global.find-links='/opt/wheels'
global.extra-index-url='file:///a/simple file:///b/simple'
global.constraint='/etc/global.txt'
global.cert='/etc/ca.crt'
install.constraint='/etc/install.txt'
download.index-url='https://download.only/simple'
:env:.find-links='/env/wheels'
:env:.default-timeout='180'
"""


def test_the_strongest_section_wins_and_lists_split_on_whitespace():
    settings = pip_settings(LISTING)
    assert settings["find-links"] == ["/env/wheels"]  # the environment over global
    assert settings["constraint"] == ["/etc/install.txt"]  # install over global
    assert settings["extra-index-url"] == ["file:///a/simple", "file:///b/simple"]
    assert "index-url" not in settings  # another command's section is not install's


def test_uv_gets_every_source_and_picks_versions_as_pip_does():
    arguments = uv_arguments(pip_settings(LISTING))
    assert arguments == [
        "--index-strategy",
        "unsafe-best-match",
        "--extra-index-url",
        "file:///a/simple",
        "--extra-index-url",
        "file:///b/simple",
        "--find-links",
        "/env/wheels",
        "--constraint",
        "/etc/install.txt",
    ]


def test_the_certificate_and_timeout_reach_uv(monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("UV_HTTP_TIMEOUT", raising=False)
    environment = uv_environment(pip_settings(LISTING))
    assert environment["SSL_CERT_FILE"] == "/etc/ca.crt"
    assert environment["UV_HTTP_TIMEOUT"] == "180"


def test_a_timeout_under_either_of_pips_names_follows_the_sections_strength(monkeypatch):
    """`timeout` and `default-timeout` (or `default_timeout`) are one pip option: the strongest
    section's value wins, whichever name each section uses."""
    monkeypatch.delenv("UV_HTTP_TIMEOUT", raising=False)
    listing = "global.timeout='60'\ninstall.default_timeout='90'\n"
    assert uv_environment(pip_settings(listing))["UV_HTTP_TIMEOUT"] == "90"
    listing = "global.default-timeout='60'\n:env:.timeout='120'\n"
    assert uv_environment(pip_settings(listing))["UV_HTTP_TIMEOUT"] == "120"


def test_it_installs_what_it_is_asked_into_the_named_environment(tmp_path):
    """A real install, from this machine's configured sources, into a bare venv."""
    venv = tmp_path / "venv"
    assert run_quietly(sys.executable, "-m", "venv", "--without-pip", venv).returncode == 0
    done = run_quietly(
        sys.executable,
        SCRIPT,
        "--python",
        venv / "bin" / "python",
        "--no-deps",
        "typer==0.26.0",
    )
    assert done.returncode == 0, done.stderr
    shown = run_quietly(
        venv / "bin" / "python", "-c", "import importlib.metadata as m; print(m.version('typer'))"
    )
    assert shown.stdout.strip() == "0.26.0"


def test_without_uv_it_says_how_to_get_it(tmp_path):
    venv = tmp_path / "venv"
    assert run_quietly(sys.executable, "-m", "venv", "--without-pip", venv).returncode == 0
    done = run_quietly(venv / "bin" / "python", SCRIPT, "typer", env={"PATH": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr == "uv_install: uv is not installed: pip install -r requirements/uv.txt\n"
