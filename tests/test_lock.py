"""requirements.lock pins an exact version of every package pyproject.toml declares (runtime and test
extra), each satisfying the declared range, so that a fresh install reproduces the results' environment;
README's two Quick start commands install from it and .ci/run runs the second."""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
LOCK_LINE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;#]+)$")


def declared() -> list[Requirement]:
    optional = PYPROJECT["optional-dependencies"]
    return [Requirement(line) for line in [*PYPROJECT["dependencies"], *optional["test"], *optional["slurm"]]]


def locked() -> dict[str, Version]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = LOCK_LINE.match(line.strip())
        assert match, f"requirements.lock: {line!r} is not an exact pin (name==version)"
        pins[canonicalize_name(match["name"])] = Version(match["version"])
    return pins


def test_every_line_of_the_lock_is_an_exact_pin():
    assert len(locked()) > 50  # the whole tree, not just the direct dependencies


def test_the_lock_pins_every_declared_dependency_within_its_range():
    pins = locked()
    missing = [str(requirement) for requirement in declared() if canonicalize_name(requirement.name) not in pins]
    assert missing == [], "not in requirements.lock (regenerate it: README, Quick start)"
    outside = [
        (str(requirement), str(pins[canonicalize_name(requirement.name)]))
        for requirement in declared()
        if not requirement.specifier.contains(pins[canonicalize_name(requirement.name)], prereleases=True)
    ]
    assert outside == [], "locked versions outside pyproject.toml's ranges"


def quick_start_commands() -> list[str]:
    block = re.search(r"## Quick start.*?```bash\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)[1]
    lines = [line for line in block.replace("\\\n", "").splitlines() if line.strip() and not line.startswith("#")]
    return [" ".join(line.split()) for line in lines]


def test_both_quick_start_commands_install_from_the_lock_and_ci_runs_the_second():
    install = "pip install -r requirements.lock && pip install --no-deps -e ."
    commands = quick_start_commands()
    assert len(commands) == 2 and all(install in command for command in commands)
    ci = (REPO / ".ci" / "run").read_text().replace("\\\n", "")
    assert commands[1] in [" ".join(line.split()) for line in ci.splitlines()]
