"""Development sessions: ``tests``, ``lint``, ``typing``, ``docs``, ``bench``, ``build``, ``demo``.

Every session builds its own virtual environment (with uv when it is
installed, else virtualenv) from ``pyproject.toml``: the dependency groups are
the single list of what each job needs.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typing", "tests", "docs"]
nox.options.reuse_venv = "yes"

PYPROJECT = nox.project.load_toml("pyproject.toml")


def install_groups(session: nox.Session, *groups: str, editable: bool = True) -> None:
    """Install the project and the named dependency groups into the session."""
    requirements: list[str] = []
    for group in groups:
        requirements.extend(nox.project.dependency_groups(PYPROJECT, group))
    session.install(*requirements)
    if editable:
        session.install("-e", ".[pandas,plot,snowflake]")
    else:
        session.install(".[pandas,plot,snowflake]")


def tests_impl(session: nox.Session, *pytest_args: str) -> None:
    """Run pytest; 'no tests collected' (exit 5) fails the session like any error."""
    install_groups(session, "test")
    session.run(
        "pytest",
        *pytest_args,
        *session.posargs,
        env={"HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "tests")},
    )


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite: unit, property, loopback HTTP and Snowflake emulator tests."""
    tests_impl(session, "-p", "no:cacheprovider")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", "src", "tests", "benchmarks", "noxfile.py", "docs")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "noxfile.py", "docs")


@nox.session
def typing(session: nox.Session) -> None:
    """mypy, strict, over the package and the typing tests."""
    install_groups(session, "typing")
    session.run("mypy")
    session.run("mypy", "--strict", "typing_tests")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the Sphinx docs with warnings as errors, and run their code examples."""
    install_groups(session, "docs", "test")
    session.run(
        "sphinx-build", "-n", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html"
    )
    # The docs examples, and the tests of the build's own checks (they need sphinx).
    session.run("pytest", "-p", "no:cacheprovider", "docs", "tests/test_docs_checks.py", "-q")


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks; results land in benchmarks/results/."""
    install_groups(session, "test", editable=False)
    session.run("python", "benchmarks/run_all.py", *session.posargs)


@nox.session
def build(session: nox.Session) -> None:
    """Build the wheel and sdist into dist/ and check them with twine."""
    session.install("build", "twine")
    session.run("python", "-m", "build", "--outdir", "dist", ".")
    session.run("twine", "check", "--strict", *sorted(str(p) for p in Path("dist").glob("*")))


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: preview and commit an allocation on the mock, audited to SQLite."""
    session.install(".")
    session.run("orderalloc", "demo", *session.posargs)
