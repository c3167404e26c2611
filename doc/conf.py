"""Sphinx configuration of skntk's documentation.

Build (from the repository root, after ``pip install -e ".[doc]"``)::

    python -m sphinx -W --keep-going -n -b html doc doc/_build/html

The build is offline: no intersphinx inventories are fetched and nothing is downloaded.
``SKNTK_DOC_SMALL=1`` shrinks every gallery example (CI builds that way); without it the
examples run at the sizes that give the real picture.
"""

import importlib
import os
import re
import shutil
import sys
import warnings
from pathlib import Path

import skntk

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

# -- Project -----------------------------------------------------------------------------------

project = "skntk"
author = "the skntk developers"
copyright = "2026, the skntk developers"
version = release = skntk.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "activation_table",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "**/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip"]
root_doc = "index"
default_role = "literal"  # `x` in a guide page reads as code, never as a broken reference
nitpicky = True

# -- autodoc, autosummary, numpydoc ------------------------------------------------------------

autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {}
autodoc_member_order = "groupwise"
autodoc_typehints = "none"  # the numpydoc sections carry the types
autoclass_content = "class"

numpydoc_show_class_members = False  # the class template lists the members
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = True


def _defined_in_skntk(obj):
    """Whether a member is skntk's own (not one inherited from scikit-learn or ``object``)."""
    target = getattr(obj, "fget", None) or getattr(obj, "__func__", None) or obj
    module = getattr(target, "__module__", None) or ""
    return module == "skntk" or module.startswith("skntk.")


def _skip_member(app, what, name, obj, skip, options):
    # scikit-learn's mixins (get_params, set_output, metadata-routing setters, ...) are
    # documented by scikit-learn; their docstrings link into its glossary, which this offline
    # build cannot resolve. Listing only skntk's own members keeps each page about skntk.
    if what == "class" and not skip and not _defined_in_skntk(obj):
        return True
    return None


_TYPE_LINE = re.compile(r"^(\s*(?:\*\*[^*]+\*\*|:obj:`[^`]+`) : )(.*)$")


def _escape_type_underscores(app, what, name, obj, options, lines):
    # A numpydoc type such as "ndarray of shape (n_features_in_,)" is reST: the trailing
    # underscore would make ``n_features_in_`` a hyperlink reference. Escape it so the type
    # reads as written. Runs after numpydoc has turned the sections into field lists.
    for i, line in enumerate(lines):
        match = _TYPE_LINE.match(line)
        if match:
            head, kind = match.groups()
            lines[i] = head + re.sub(r"(?<=\w)_(?=[\s,)\]]|$)", r"\\_", kind)


# -- Cross-references written as Python would resolve them ---------------------------------------

# The estimators are documented under the package (``skntk.NTKSketch``) although they are
# defined in submodules, and some helpers are documented under the module that re-exports
# them. A docstring that names ``mlp_apply`` or ``sample_leverage_gaussian`` unqualified means
# the object of that name in its own module; resolve it the way Python would, and link to the
# page where that very object is documented. Nothing undocumented is linked.
_documented = {}


def _documented_objects(env):
    if not _documented:
        for fullname, entry in env.get_domain("py").objects.items():
            if entry.aliased or entry.objtype not in {"class", "function", "exception", "data"}:
                continue
            obj = _import_object(fullname)
            if obj is not None:
                _documented.setdefault(id(obj), fullname)
    return _documented


def _import_object(fullname):
    parts = fullname.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _resolve_as_python(app, env, node, contnode):
    if node.get("refdomain") != "py" or node.get("reftype") not in {"func", "class", "obj"}:
        return None
    target = node["reftarget"].lstrip("~.")
    # the module the docstring was written in: that of the object it documents
    owners = []
    source = re.search(r"docstring of ([\w.]+)", node.source or "")
    if source:
        owners.append(_import_object(source.group(1)))
    module, klass = node.get("py:module"), node.get("py:class")
    if module and klass:
        owners.append(_import_object(f"{module}.{klass}"))
    scopes = [""]
    for owner in owners:
        home = getattr(owner, "__module__", None)
        if isinstance(home, str) and home + "." not in scopes:
            scopes.append(home + ".")
    if module:
        scopes.append(module + ".")
    documented = _documented_objects(env)
    for scope in scopes:
        obj = _import_object(scope + target)
        name = documented.get(id(obj)) if obj is not None else None
        if name is not None:
            return env.get_domain("py").resolve_xref(
                env, node["refdoc"], app.builder, "obj", name, node, contnode
            )
    return None


# -- Cross-references that cannot resolve offline ----------------------------------------------

# No intersphinx (the build must not fetch inventories): references into other projects'
# documentation stay plain text instead of links.
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|scipy|sklearn|dask|cupy|joblib|array_api_strict)(\..*)?"),
    # Private helpers (a leading underscore) are named in some docstrings as pointers for
    # readers of the source; they have no page, so those names stay plain text.
    (r"py:.*", r"(.+\.)?_[A-Za-z]\w*(\..+)?"),
]

# -- HTML ---------------------------------------------------------------------------------------

_EXAMPLES = Path(__file__).parent.parent / "examples"

html_theme = "pydata_sphinx_theme"
html_title = f"skntk {release}"
html_static_path = ["_static"]
html_css_files = ["skntk.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    # The examples hold wide code blocks: give them the width of the page-toc column.
    "secondary_sidebar_items": {
        "**": ["page-toc"],
        **{f"auto_examples/{p.stem}": [] for p in _EXAMPLES.glob("plot_*.py")},
    },
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": []}

# -- MathJax ------------------------------------------------------------------------------------

# Nothing is fetched at build time either way; the choice is where the browser gets MathJax.
# SKNTK_DOC_MATHJAX unset: Debian's libjs-mathjax (MathJax 2) when installed, copied into the
# site (about 2.5 MB: TeX input, SVG output, TeX fonts) so the pages render offline; else the
# CDN default of Sphinx (the browser then needs the network to show formulas).
# SKNTK_DOC_MATHJAX=cdn forces the CDN; SKNTK_DOC_MATHJAX=DIR uses the MathJax 2 tree in DIR.
_mathjax_choice = os.environ.get("SKNTK_DOC_MATHJAX", "")
_mathjax_dir = None
if _mathjax_choice != "cdn":
    _candidate = Path(_mathjax_choice or "/usr/share/javascript/mathjax")
    if (_candidate / "MathJax.js").is_file():
        _mathjax_dir = _candidate
    elif _mathjax_choice:
        raise ValueError(
            f"SKNTK_DOC_MATHJAX={_mathjax_choice!r} holds no MathJax.js: give a MathJax 2 "
            "folder (Debian: apt-get install libjs-mathjax) or 'cdn'"
        )
if _mathjax_dir is not None:
    mathjax_path = "mathjax/MathJax.js?config=TeX-AMS_SVG"
    mathjax2_config = {
        "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]]},
        "SVG": {"font": "TeX"},
        "menuSettings": {"zoom": "None"},
        "showMathMenu": False,
        "messageStyle": "none",
    }

_MATHJAX_PARTS = [
    "MathJax.js",
    "config/TeX-AMS_SVG.js",
    "jax/input/TeX",
    "jax/element",
    "jax/output/SVG/config.js",
    "jax/output/SVG/jax.js",
    "jax/output/SVG/autoload",
    "jax/output/SVG/fonts/TeX",
    "extensions",
    "localization/en",
]


def _copy_mathjax(app, exception):
    if exception is not None or _mathjax_dir is None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / "mathjax"
    for part in _MATHJAX_PARTS:
        source, dest = _mathjax_dir / part, target / part
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, dest, dirs_exist_ok=True)
        else:
            shutil.copy2(source, dest)


# -- Gallery ------------------------------------------------------------------------------------

# Every example reads SKNTK_DOC_SMALL itself (see the module docstring).
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Only the plot_* examples are part of the gallery; the other scripts in examples/ are
    # command-line demos without figures (the README's main demo among them).
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"^(?!plot_)",
    "doc_module": ("skntk",),
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"skntk": None},
    "remove_config_comments": True,
    "download_all_examples": False,
    "show_memory": False,
    "min_reported_time": 0,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "abort_on_example_error": True,
}

# Figures are for a page: no interactive backend, no warnings from matplotlib's font cache.
os.environ.setdefault("MPLBACKEND", "Agg")
warnings.filterwarnings("ignore", category=UserWarning, message=".*non-interactive.*")


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("autodoc-process-docstring", _escape_type_underscores, priority=600)
    app.connect("missing-reference", _resolve_as_python)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True}
