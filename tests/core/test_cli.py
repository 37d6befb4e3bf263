"""Shared CLI support: the usage-error type found in typer whatever its layout, one look."""

from __future__ import annotations

import types

import typer

from houseprice.core.cli import typer_app, usage_error_type


def test_usage_errors_are_clicks_usage_error_with_a_public_fallback():
    found = usage_error_type(typer)
    assert found.__name__ == "UsageError" and issubclass(typer.BadParameter, found)

    class Reshaped(Exception):  # a typer whose BadParameter no longer derives from UsageError
        pass

    assert usage_error_type(types.SimpleNamespace(BadParameter=Reshaped)) is Reshaped


def test_typer_commands_print_plain_help_like_argparse():
    from typer.testing import CliRunner

    app = typer_app()

    @app.command(help="Do a thing.")
    def thing(count: int = typer.Option(1, "--count", help="How many.")) -> None:
        pass

    shown = CliRunner().invoke(app, ["--help"]).output
    assert shown.startswith("Usage: ") and "--count" in shown
    assert not any(box in shown for box in "╭│╰─")


def test_an_extra_not_installed_is_found_without_importing_it(capsys):
    import sys

    import pytest

    from houseprice.core.cli import EXIT_MISSING_EXTRA, install_command, require_installed

    assert "wave" not in sys.modules  # a standard module nothing here imports
    require_installed("hp-x", "dask", "json.decoder", "wave")  # installed: nothing happens
    assert "wave" not in sys.modules  # found, not imported
    with pytest.raises(SystemExit) as stop:
        require_installed("hp-x", "dask", "json", "no_such_package_hp.sub")
    line = capsys.readouterr().err
    assert stop.value.code == EXIT_MISSING_EXTRA and line.count("\n") == 1
    assert "no_such_package_hp is not installed" in line and install_command("dask") in line
