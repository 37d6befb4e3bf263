"""make mutation's bookkeeping: the equivalents file holds any mutant's text, and every target
names test files that exist."""

from __future__ import annotations

import importlib
import json

import pytest

from tests.conftest import REPO


@pytest.fixture
def run(monkeypatch):
    """tools/mutation/run.py, importable as it is run: `python -m tools.mutation.run` from the
    repository's root."""
    monkeypatch.syspath_prepend(str(REPO))
    return importlib.import_module("tools.mutation.run")


def _entry(path: str, line: str, mutation: str, why: str) -> str:
    return json.dumps({"path": path, "line": line, "mutation": mutation, "why": why}) + "\n"


def test_a_mutant_whose_text_holds_separators_is_matched(run, tmp_path):
    line = 'kind: str | None = " | ".join(parts)  # "a | b"'
    file = tmp_path / "equivalent.jsonl"
    file.write_text(_entry("core/x.py", line, '" | " -> "XX | XX"', "only a log line") + "\n")
    found = run._equivalents(file)
    assert found == {("core/x.py", line, '" | " -> "XX | XX"'): "only a log line"}
    mutant = run.Mutant("core/x.py", 3, '" | " -> "XX | XX"', line)
    assert mutant.key in found


def test_an_entry_without_its_fields_is_one_line_naming_it(run, tmp_path):
    file = tmp_path / "equivalent.jsonl"
    file.write_text(_entry("a.py", "x", "y", "z") + json.dumps({"path": "a.py"}) + "\n")
    with pytest.raises(SystemExit, match=r"equivalent.jsonl:2: needs path, line, mutation and why"):
        run._equivalents(file)


def test_the_equivalents_survivors_and_stale_entries_are_reported(run, capsys):
    kept = run.Mutant("core/x.py", 1, "< -> <=", "if a < b:")
    lost = run.Mutant("core/x.py", 2, "+ -> -", "c = a + b")
    outcomes = [run.Outcome(kept, "survived"), run.Outcome(lost, "survived")]
    equivalent = {kept.key: "same", ("core/x.py", "gone()", "drop call"): "old"}
    assert run._report(outcomes, equivalent, 90) == 1  # 0 of 1 scored mutants killed
    out = capsys.readouterr().out
    assert "survived: core/x.py:2: + -> - | c = a + b" in out
    assert "stale equivalent (no such mutant now): core/x.py | gone() | drop call" in out
    assert "survived: core/x.py:1" not in out


def test_the_repository_lists_parse_and_name_real_files(run):
    equivalent = run._equivalents()
    assert equivalent and all(run.REPO.joinpath(path).is_file() for path, _, _ in equivalent)
    for module, tests in run.TARGETS.items():
        assert run.REPO.joinpath(module).is_file(), module
        assert all(run.REPO.joinpath(t).is_file() for t in tests), module
        assert module.split("/")[0] in run.PACKAGE_OF


def test_again_takes_only_what_was_killed_or_timed_out_and_runs_the_rest(run, tmp_path):
    """--again SAVED: a mutant killed before stays killed without a run; a survivor, or a mutant
    of a line changed since (not in SAVED), runs again."""
    killed, slow, lived = (run.Mutant("core/x.py", i, "drop call", f"f{i}()") for i in (1, 2, 3))
    saved = tmp_path / "mutation.json"
    outcomes = [run.Outcome(killed, "killed"), run.Outcome(slow, "timeout")]
    run._save([*outcomes, run.Outcome(lived, "survived")], saved)
    assert run._settled(run._load(saved)) == {killed.key: "killed", slow.key: "timeout"}


def test_an_interrupted_run_keeps_its_finished_modules_and_the_earlier_record(
    run, tmp_path, monkeypatch, capsys
):
    """Saved after each module, merged with every --again file, so hours of mutants survive a
    Ctrl-C and the next run goes on with --again."""
    done, later, other = (run.Mutant(m, 1, "drop call", "f()") for m in ("a.py", "b.py", "c.py"))
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    run._save([run.Outcome(later, "killed")], first)
    run._save([run.Outcome(other, "timeout"), run.Outcome(done, "survived")], second)

    def module_run(module, work, env, jobs, settled):
        assert settled == {later.key: "killed", other.key: "timeout"}  # both files
        if module == "b.py":
            raise KeyboardInterrupt
        return [run.Outcome(done, "killed")]

    monkeypatch.setattr(run, "TARGETS", {"a.py": (), "b.py": ()})
    monkeypatch.setattr(run, "_environment", lambda work: {})
    monkeypatch.setattr(run, "_run_module", module_run)
    monkeypatch.setattr(run.signal, "signal", lambda *args: None)  # this process's stay as they are
    saved = tmp_path / "out.json"
    args = ["--again", str(first), "--again", str(second), "--save", str(saved)]
    assert run.main(args) == 130
    kept = {(o.mutant.path, o.status) for o in run._load(saved)}
    assert kept == {("a.py", "killed"), ("b.py", "killed"), ("c.py", "timeout")}
    assert capsys.readouterr().err == (
        f"mutation: interrupted; 1 finished module(s) saved in {saved}; "
        f"go on with --again {saved}\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.json", "out.json", "second.json"]
