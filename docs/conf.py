"""Sphinx configuration for the orderalloc documentation.

Build with ``sphinx-build -n -W --keep-going -b html docs docs/_build/html``
(``nox -s docs`` does it and then runs every example with Sybil).
"""

from __future__ import annotations

import importlib.metadata
from typing import TYPE_CHECKING

from docutils import nodes
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
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "conftest.py", "Thumbs.db", ".DS_Store"]

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
    if node.get("refdomain") != "py" or node.get("reftype") != "obj":
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


def setup(app: Sphinx) -> None:
    """Connect the loose resolver of single-backtick references."""
    app.connect("missing-reference", _resolve_loose)


# --- HTML ---------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"orderalloc {release}"
