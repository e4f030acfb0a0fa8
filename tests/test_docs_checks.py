"""The docs build's own checks: error banners fail it, attrs' NOTHING never shows."""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path

import pytest

pytest.importorskip("sphinx")

from sphinx.errors import ExtensionError

CONF = Path(__file__).parent.parent / "docs" / "conf.py"


@pytest.fixture(name="conf", scope="module")
def _conf() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("docs_conf", CONF)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _app(outdir: Path) -> types.SimpleNamespace:
    return types.SimpleNamespace(outdir=outdir, builder=types.SimpleNamespace(format="html"))


class TestErrorBanners:
    """The build fails on any page that would show an error banner."""

    def test_contents_directive_fails(self, conf: types.ModuleType, tmp_path: Path) -> None:
        """A `contents` block (Furo's red ERROR banner) fails the build, naming the page."""
        (tmp_path / "api.html").write_text('<nav class="contents local" id="x"></nav>')
        with pytest.raises(ExtensionError, match=r"api\.html"):
            conf._fail_on_error_banners(_app(tmp_path), None)

    def test_system_message_fails(self, conf: types.ModuleType, tmp_path: Path) -> None:
        """A docutils system message left in a page fails the build."""
        (tmp_path / "page.html").write_text('<aside class="system-message">oops</aside>')
        with pytest.raises(ExtensionError, match="system-message"):
            conf._fail_on_error_banners(_app(tmp_path), None)

    def test_clean_pages_pass(self, conf: types.ModuleType, tmp_path: Path) -> None:
        """Pages without banners, or with Furo's escape hatch, pass."""
        hatch = "contents this-will-duplicate-information-and-it-is-still-useful-here"
        (tmp_path / "a.html").write_text(f'<p class="x"></p><nav class="{hatch}"></nav>')
        conf._fail_on_error_banners(_app(tmp_path), None)


def test_attrs_factory_defaults_read_factory(conf: types.ModuleType) -> None:
    """A signature with attrs' NOTHING sentinel shows <factory> instead."""
    signature = "(*, id: str, analytics: Mapping[str, float] = NOTHING, benchmarks=NOTHING)"
    fixed, _ = conf._no_attrs_sentinel(None, "class", "x", None, None, signature, None)
    assert "NOTHING" not in fixed
    assert fixed.count("<factory>") == 2
