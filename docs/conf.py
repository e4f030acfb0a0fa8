"""Sphinx configuration for the orderalloc documentation.

Build with ``sphinx-build -n -W --keep-going -b html docs docs/_build/html``
(``nox -s docs`` does it and then runs every example with Sybil).
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from docutils import nodes
from sphinx.errors import ExtensionError
from sphinx.ext.napoleon.docstring import GoogleDocstring
from sphinx.util.nodes import make_refnode

if TYPE_CHECKING:
    from sphinx.addnodes import pending_xref
    from sphinx.application import Sphinx
    from sphinx.environment import BuildEnvironment

project = "orderalloc"
author = "orderalloc developers"
copyright = "2024, orderalloc developers"
try:
    release = importlib.metadata.version("orderalloc")
except importlib.metadata.PackageNotFoundError:  # building from a bare checkout
    release = "0.0.0"
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx.ext.mathjax",
    # MathJax served from the built site, not a CDN: the maths page reads offline.
    "sphinx-mathjax-offline",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "conftest.py", "_pictures.py", "Thumbs.db", ".DS_Store"]

# --- MyST -------------------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist", "dollarmath", "amsmath"]
myst_heading_anchors = 3

# --- autodoc and napoleon (Google style) ------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_attr_annotations = True

# --- nitpicky, offline -------------------------------------------------------------------------
# Every cross-reference must resolve (-n -W). The docs are built without network access,
# so there is no intersphinx: references to other projects' objects (numpy, attrs, httpx,
# pandas, click, hypothesis, the standard library's typing internals) have no inventory to
# resolve against and are ignored here, by package, rather than edited out of docstrings.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|np|numpy\.typing|npt)(\..*)?"),
    (r"py:.*", r"(attrs|attr)(\..*)?"),
    (r"py:.*", r"httpx(\..*)?"),
    (r"py:.*", r"(pandas|pd)(\..*)?"),
    (r"py:.*", r"click(\..*)?"),
    (r"py:.*", r"(hypothesis|st)(\..*)?"),
    (r"py:.*", r"(matplotlib|plt)(\..*)?"),
    (r"py:.*", r"(typing_extensions|typing|collections\.abc|types|enum|abc)(\..*)?"),
    (r"py:.*", r"(os|pathlib|datetime|dt|threading|sqlite3|logging)(\..*)?"),
    # Private helpers and type variables that show up in signatures but are not API.
    (r"py:.*", r"orderalloc(\..*)?\._.*"),
    (r"py:.*", r"orderalloc\.serialization\.T"),
    # The rounding's private search state, named bare in `Ideal.moving_mean`'s annotation.
    (r"py:class", r"MovingMean"),
    # Names in orderalloc.plot's signatures: pathlib's and matplotlib's classes as
    # written under `from __future__ import annotations`, and its Literal aliases.
    (r"py:class", r"Path|Axes|View|Unit"),
    (r"py:.*", r"orderalloc\.parallel\.[TR]"),
    (r"py:.*", r"concurrent\.futures(\..*)?"),
]

# --- single backticks in docstrings ----------------------------------------------------------
# Docstrings write names in single backticks (`Security`, `AuditSink.verify`, `groups()`).
# They are Python cross-references. Many name an object from the module that re-exports
# it (`MockAladdin` in orderalloc.sources is documented as orderalloc.MockAladdin), so a
# reference Sphinx cannot resolve as written is looked up again: in the current class,
# the current module, the front door (orderalloc.X), then as the one documented object
# whose name ends with it. What still resolves nowhere, or is ambiguous (a submodule
# without a page of its own, a parameter name), is set as code instead of a broken or
# guessed link. Explicit roles (:class:, :func:, ...) and every type in a signature are
# still checked by -n.
default_role = "py:obj"


def _resolve_loose(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.TextElement
) -> nodes.Element | None:
    """Resolve a default-role reference by context or unique suffix, else show it as code."""
    if node.get("refdomain") != "py":
        return None
    if node.get("reftype") == "class" and node["reftarget"].startswith("orderalloc."):
        # A type in a signature, named by the module that defines it
        # (orderalloc.sources.orders.PostedOrder): link it to its documented
        # front-door name (orderalloc.PostedOrder) when there is one.
        objects = env.get_domain("py").objects  # type: ignore[attr-defined]
        front = "orderalloc." + node["reftarget"].rpartition(".")[2]
        if front in objects:
            entry = objects[front]
            return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode)
        return None
    if node.get("reftype") != "obj":
        return None
    target = node["reftarget"].removesuffix("()").lstrip("~.")
    objects = env.get_domain("py").objects  # type: ignore[attr-defined]
    module, cls = node.get("py:module"), node.get("py:class")
    candidates = [
        f"{module}.{cls}.{target}" if module and cls else None,
        f"{module}.{target}" if module else None,
        f"orderalloc.{target}",
        f"orderalloc.{target.rpartition('.')[2]}" if target.startswith("orderalloc.") else None,
    ]
    found = next((name for name in candidates if name and name in objects), None)
    if found is None:
        suffix = [name for name in objects if name.endswith("." + target)]
        found = suffix[0] if len(suffix) == 1 else None
    if found is None:
        return nodes.literal(node.rawsource, contnode.astext())
    entry = objects[found]
    return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode)


# Attribute and property docstrings here are sentences; napoleon would read the text
# before a first colon ("Cash paid (or received) per unit of original face: ...") as
# the attribute's type. Their types come from the annotations instead.
def _attribute_docstring_as_prose(self: GoogleDocstring) -> list[str]:
    lines: list[str] = self.__class__(self._consume_to_end(), self._config).lines()
    return lines


GoogleDocstring._parse_attribute_docstring = _attribute_docstring_as_prose  # type: ignore[method-assign]


def _no_attrs_sentinel(
    app: Sphinx,
    what: str,
    name: str,
    obj: object,
    options: object,
    signature: str | None,
    return_annotation: str | None,
) -> tuple[str | None, str | None] | None:
    """Show attrs' factory defaults as ``<factory>`` (as dataclasses do), not ``NOTHING``."""
    if signature and "NOTHING" in signature:
        return re.sub(r"=\s*NOTHING\b", "=<factory>", signature), return_annotation
    return None


def _draw_pictures(app: Sphinx) -> None:
    """Draw every picture of the docs from the current code (docs/_pictures.py)."""
    sys.path.insert(0, str(Path(__file__).parent))
    import _pictures

    _pictures.make()


# Furo paints a red "ERROR: ..." banner over some markup (a `contents` directive) and
# docutils leaves "system-message" / "problematic" nodes for errors it recovered from;
# none of them fails a -W build, so the build looks at its own HTML.
_BANNER_CLASSES = {"contents", "system-message", "problematic"}
_ESCAPE_HATCH = "this-will-duplicate-information-and-it-is-still-useful-here"


def _fail_on_error_banners(app: Sphinx, exception: BaseException | None) -> None:
    """Fail the build if any page would show an error banner."""
    if exception is not None or app.builder.format != "html":
        return
    found = []
    for page in Path(app.outdir).rglob("*.html"):
        for classes in re.findall(r'class="([^"]*)"', page.read_text(encoding="utf-8")):
            tokens = set(classes.split())
            if tokens & _BANNER_CLASSES and _ESCAPE_HATCH not in tokens:
                found.append(f"{page.relative_to(app.outdir)}: class={classes!r}")
    if found:
        raise ExtensionError("error banners in the built HTML:\n  " + "\n  ".join(found))


def setup(app: Sphinx) -> None:
    """Connect the resolver, the signature fix, the pictures and the banner check."""
    app.connect("missing-reference", _resolve_loose)
    app.connect("autodoc-process-signature", _no_attrs_sentinel)
    app.connect("builder-inited", _draw_pictures)
    app.connect("build-finished", _fail_on_error_banners)


# --- HTML ---------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"orderalloc {release}"
