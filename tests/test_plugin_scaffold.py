"""``nws plugins new NAME``: a plugin package whose tests pass as generated, which the
suite loads once it is installed; bad names and occupied folders are refused with one
line and exit status 2."""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from click.testing import CliRunner

from nws.cli import main
from nws.scaffold import free_code

ROOT = Path(__file__).resolve().parent.parent


def new(*args: str):
    return CliRunner().invoke(main, ["plugins", "new", *args])


@pytest.mark.parametrize("name", ["9lives", "my-checks", "class", "json", "shared", "検査"])
def test_a_name_that_is_not_a_usable_package_name_is_refused(name, tmp_path):
    result = new(name, "--dir", str(tmp_path / "out"))
    assert result.exit_code == 2
    [line] = result.output.splitlines()
    assert line.startswith("nws: ") and repr(name) in line
    assert not (tmp_path / "out").exists()


def test_a_folder_that_is_not_empty_is_refused(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    result = new("my_checks", "--dir", str(tmp_path / "mine"))
    assert result.exit_code == 2
    assert result.output.strip() == (f"nws: {tmp_path / 'mine'} already exists and is not "
                                     "an empty folder")
    assert os.listdir(tmp_path / "mine") == ["notes.txt"]


def test_a_taken_or_malformed_form_code_is_refused(tmp_path):
    result = new("my_checks", "--dir", str(tmp_path / "a"), "--code", "02-01")
    assert (result.exit_code, result.output.strip()) == (
        2, "nws: form code 02-01 is already provided by a loaded plugin")
    result = new("my_checks", "--dir", str(tmp_path / "b"), "--code", "様99")
    assert result.exit_code == 2 and "NN-NN" in result.output


def test_installed_plugins_the_suite_refuses_are_named_in_one_line(tmp_path, monkeypatch):
    import plugins

    monkeypatch.setattr(plugins, "BUILTIN", (*plugins.BUILTIN, "no_such_plugin_module"))
    result = new("my_checks", "--dir", str(tmp_path / "a"))
    assert result.exit_code == 2
    [line] = result.output.splitlines()
    assert line.startswith("nws: the installed plugins cannot be loaded") and \
        "no_such_plugin_module" in line


def test_the_form_code_is_one_no_loaded_form_uses():
    assert free_code({"02-01", "99-01"}, {"様02-01"}) == "99-02"
    assert free_code({"02-01"}, {"様99-01一覧"}) == "99-02"


def test_the_package_goes_to_name_by_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = new("my_checks")
    assert result.exit_code == 0, result.output
    files = sorted(str(p.relative_to(tmp_path / "my_checks"))
                   for p in (tmp_path / "my_checks").rglob("*") if p.is_file())
    assert files == ["README.md", "my_checks/__init__.py", "my_checks/form.py",
                     "my_checks/router.py", "pyproject.toml", "tests/test_form.py",
                     "tests/test_router.py"]
    pyproject = (tmp_path / "my_checks" / "pyproject.toml").read_text()
    assert '[project.entry-points.nws]\nmy_checks = "my_checks"' in pyproject
    assert "required_for=required_for" in (tmp_path / "my_checks" / "my_checks" /
                                           "form.py").read_text()


def _run(args, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, **kwargs)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.mark.venv
def test_a_scaffolded_plugin_installs_passes_its_tests_and_is_used_by_the_suite(tmp_path):
    assert new("pref_extra", "--dir", str(tmp_path / "pref_extra")).exit_code == 0
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    # A venv made from a venv's interpreter sees the base installation's packages, not
    # this venv's: point it at this venv's packages (as a path, so that their editable
    # installs' hooks do not run; the suite is installed below from this tree).
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                                         "['purelib'])"]).stdout.strip())
    (site / "test_shared_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # One build backend for both editable installs (a setuptools that builds wheels
    # without the ``wheel`` package), instead of an isolated build environment each.
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
    _run([*pip, "setuptools>=70.1"])
    _run([*pip, "--no-deps", "--no-build-isolation", "-e", str(ROOT),
          "-e", str(tmp_path / "pref_extra")])
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "NWS_PLUGINS", "NWS_DISABLE_PLUGINS")}
    env["NWS_DATA_DIR"] = str(tmp_path / "var")

    tests = _run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                 cwd=tmp_path / "pref_extra", env=env)
    assert tests.stdout.splitlines()[-1].startswith("9 passed"), tests.stdout

    listed = _run([str(venv / "bin" / "nws"), "plugins"], cwd=tmp_path, env=env).stdout
    assert "pref_extra" in listed and "entry point (pref-extra 0.1.0)" in listed
    [forms] = [line for line in listed.splitlines() if line.startswith("forms: ")]
    assert "99-01 追加確認事項（pref_extra）" in forms
