"""The course as a static site: executed lessons as HTML, the glossary, the defaults, an index.

    python scripts/build_site.py [--out build/site] [--executed DIR ...]

Each lesson (``notebooks/NN_*.py``) is executed once with nbclient (the brokers must run:
``make site`` starts them) unless an ``--executed DIR`` (the first that has it) holds it
already executed as ``DIR/NN_*.ipynb`` with every widget's state (``make test`` passes the
copies the browser tests ran and saved, then those nbval ran, so no lesson executes again
for the site). nbconvert's ``lab`` template turns each into
one self-contained HTML page (figures are inline PNGs); ``glossary.md``, ``defaults.md`` and
the lesson list of ``notebooks/README.md`` (the landing page, ``index.html``) are rendered
with nbconvert's Markdown filter. Links between them point at the ``.html`` pages, so the
site works opened from disk (``file://``), with no server and no network.

A slider needs a kernel to re-run the simulator, so a page cannot re-draw the figure; the
widget's embedded state could render inert controls only with a widget library fetched from
a CDN. Instead each widget becomes its figure at the defaults (from the saved widget state),
the controls' values, and a line saying the sliders need a running kernel.

Fails (exit 1) when a lesson raised, when a widget has no figure in its state, or when the
site is larger than 50 MB.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import jupytext
import nbformat
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import markdown2html_mistune

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
MAX_BYTES = 50 * 1024 * 1024
#: The longest a cell may run (lesson 13's cluster cells take about 20-45 s).
CELL_TIMEOUT_S = 300
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
NEEDS_KERNEL = (
    "The controls need a running kernel: this static page shows the figure at the defaults. "
    "Move the sliders in JupyterLab (<code>make course</code>)."
)
CSS = """
body { font: 16px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
table { border-collapse: collapse; } th, td { border: 1px solid #ccc; padding: .2rem .5rem; }
code, pre { background: #f5f5f5; } pre { padding: .5rem; overflow-x: auto; }
nav.course { margin-bottom: 1rem; font-size: 14px; }
a.anchor-link { opacity: 0; text-decoration: none; margin-left: .3rem; }
h1:hover a.anchor-link, h2:hover a.anchor-link, h3:hover a.anchor-link { opacity: .5; }
p.static-copy { background: #f0f4f8; padding: .5rem 1rem; }
"""
STATIC_COPY = (
    '<p class="static-copy">A static copy of the course: every lesson executed once against '
    "real Redis and Kafka, with its figures at the sliders' defaults. To move the sliders and "
    "run the labs yourself, start the course with <code>make course</code>.</p>"
)
NAV_CSS = "nav.course{font:14px system-ui,sans-serif;padding:.5rem 1rem;background:#f0f4f8}"
WIDGET_NOTE_CSS = "p.needs-kernel{font:13px system-ui,sans-serif;color:#555;margin:.2rem 0}"


class SiteError(RuntimeError):
    """The site cannot be built as promised (an error in a lesson, a widget without figure)."""


# --------------------------------------------------------------------------- lessons
def lessons(folder: Path = NOTEBOOKS) -> list[Path]:
    return sorted(folder.glob("[0-9][0-9]_*.py"))


def title(nb: nbformat.NotebookNode) -> str:
    """The lesson's first Markdown heading, without the '#'."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    raise SiteError("a lesson without a '# ' heading has no title")


def usable(nb: nbformat.NotebookNode) -> bool:
    """An executed copy the site can take as it is: it has outputs, and every widget view in
    it has its saved state (nbval's copies have none: a lesson with sliders comes from the
    browser tests' run, whose state was saved)."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    views = [o["data"][WIDGET_VIEW] for o in outputs if WIDGET_VIEW in o.get("data", {})]
    return bool(outputs) and all(v["model_id"] in state for v in views)


def executed(source: Path, ready: Sequence[Path] = ()) -> tuple[nbformat.NotebookNode, str]:
    """The lesson executed: from the first of ``ready`` with a usable copy, else by nbclient."""
    for folder in ready:
        copy = folder / f"{source.stem}.ipynb"
        if copy.exists() and usable(nb := nbformat.read(copy, as_version=4)):
            return nb, f"as executed for {folder}"
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    from sim.course.headless import execute

    nb = jupytext.read(source)
    nb.metadata.pop("jupytext", None)
    t0 = time.monotonic()
    try:
        execute(nb, source.parent, timeout_s=CELL_TIMEOUT_S, store_widget_state=True)
    except CellTimeoutError as exc:
        raise SiteError(f"{source.stem}: a cell ran over {CELL_TIMEOUT_S} s: {exc}") from exc
    except CellExecutionError as exc:
        raise SiteError(f"{source.stem} raised: {str(exc)[-2000:]}") from exc
    return nb, f"executed in {time.monotonic() - t0:.1f} s"


def errors(nb: nbformat.NotebookNode) -> list[str]:
    return [
        f"cell {i}: {o.get('ename')}: {o.get('evalue')}"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]


# --------------------------------------------------------------------------- widgets
def _children(state: dict) -> list[str]:
    refs = []
    for value in state.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item.startswith("IPY_MODEL_"):
                refs.append(item.removeprefix("IPY_MODEL_"))
    return refs


def _control_value(state: dict) -> str | None:
    if "value" in state and not isinstance(state["value"], dict):
        return str(state["value"])
    if "index" in state and state.get("_options_labels"):
        index = state["index"]
        return state["_options_labels"][index] if isinstance(index, int) else None
    return None


def static_widget(model_id: str, models: dict, where: str) -> list[nbformat.NotebookNode]:
    """The outputs that stand in for one widget view: a note with the control values and
    every figure (or other output) its Output and Image models hold."""
    controls, shown, todo, seen = [], [], [model_id], set()
    while todo:
        mid = todo.pop(0)
        if mid in seen or mid not in models:
            continue
        seen.add(mid)
        model = models[mid]
        state, name = model.get("state", {}), model.get("model_name", "")
        if name == "OutputModel":
            shown += [nbformat.from_dict(o) for o in state.get("outputs", [])]
        elif name == "ImageModel":
            data = next((b["data"] for b in model.get("buffers", []) if b["path"] == ["value"]), "")
            if data:
                fmt = state.get("format", "png")
                shown.append(nbformat.v4.new_output("display_data", {f"image/{fmt}": data}))
        elif state.get("description") and (value := _control_value(state)) is not None:
            controls.append(f"{html.escape(state['description'])} = {html.escape(value)}")
        todo += _children(state)
    if model_id not in models:
        raise SiteError(f"{where}: its widget has no saved state (was the notebook executed?)")
    if not any("image/png" in o.get("data", {}) for o in shown):
        raise SiteError(f"{where}: its widget holds no figure in its saved state")
    values = f" Values shown: {'; '.join(controls)}." if controls else ""
    note = f'<p class="needs-kernel">{NEEDS_KERNEL}{values}</p>'
    return [nbformat.v4.new_output("display_data", {"text/html": note}), *shown]


#: The models of a progress bar (tqdm's notebook bar: an HBox of HTML, a progress and HTML,
#: with their layouts and styles).
PROGRESS_MODELS = {
    "HBoxModel",
    "HTMLModel",
    "FloatProgressModel",
    "IntProgressModel",
    "LayoutModel",
    "ProgressStyleModel",
    "HTMLStyleModel",
    "DescriptionStyleModel",
}


def is_progress_bar(model_id: str, models: dict) -> bool:
    """True when the widget view is a progress bar (a lab's running task), which a static
    page has nothing to show for: a bar left behind by a finished run is dropped."""
    todo, seen, names = [model_id], set(), set()
    while todo:
        mid = todo.pop(0)
        if mid in seen or mid not in models:
            continue
        seen.add(mid)
        names.add(models[mid].get("model_name", ""))
        todo += _children(models[mid].get("state", {}))
    return (
        bool(names)
        and names <= PROGRESS_MODELS
        and bool(names & {"FloatProgressModel", "IntProgressModel"})
    )


def freeze_widgets(nb: nbformat.NotebookNode, lesson: str) -> int:
    """Replace every widget view by its static stand-in; returns how many were replaced."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    replaced = 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                outputs.append(out)
                continue
            if is_progress_bar(view["model_id"], state):
                continue
            outputs += static_widget(view["model_id"], state, f"{lesson} cell {i}")
            replaced += 1
        cell.outputs = outputs
    nb.metadata.pop("widgets", None)  # nothing left for a widget library to render
    return replaced


# --------------------------------------------------------------------------- pages
def _links(page: str, names: set[str]) -> str:
    """Links to the course's own .md/.ipynb/.py files point at their .html pages."""

    def fix(match: re.Match) -> str:
        stem, anchor = match.group(1), match.group(3) or ""
        stem = "index" if stem == "README" else stem
        return f'href="{stem}.html{anchor}"' if stem in names else match.group(0)

    return re.sub(r'href="([\w.-]+?)\.(md|ipynb|py)(#[^"]*)?"', fix, page)


def _offline(page: str) -> str:
    """Drop the CDN scripts (require.js, MathJax): the pages have no widgets and no math."""
    page = re.sub(r'<script src="https://[^"]*"></script>', "", page)
    return re.sub(r'<script type="text/x-mathjax-config">.*?</script>', "", page, flags=re.S)


def _nav(links: list[tuple[str, str]]) -> str:
    items = " · ".join(f'<a href="{href}">{html.escape(text)}</a>' for href, text in links)
    return f'<nav class="course">{items}</nav>'


def markdown_page(source: Path, heading: str, nav: str, intro: str = "") -> str:
    body = markdown2html_mistune(source.read_text(encoding="utf-8"))
    if intro:  # after the page's first heading
        body = re.sub(r"(</h1>)", lambda m: m.group(1) + intro, body, count=1)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(heading)}</title><style>{CSS}</style></head>"
        f"<body>{nav}\n{body}</body></html>\n"
    )


def lesson_page(nb: nbformat.NotebookNode, heading: str, nav: str) -> str:
    exporter = HTMLExporter(template_name="lab")
    page, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": heading}})
    style = f"<style>{NAV_CSS}{WIDGET_NOTE_CSS}</style>"
    page = page.replace("</head>", f"{style}</head>", 1)
    page = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + nav, page, count=1)
    return _offline(page)


def build(out: Path, ready: Sequence[Path] = (), folder: Path = NOTEBOOKS) -> dict[str, str]:
    """Build the site into ``out``; returns page file -> title."""
    sources = lessons(folder)
    if not sources:
        raise SiteError(f"no lessons (NN_*.py) in {folder}")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    names = {p.stem for p in sources} | {"glossary", "defaults", "index"}
    home = [("index.html", "Course index"), ("glossary.html", "Glossary"),
            ("defaults.html", "Defaults")]  # fmt: skip
    pages = {}
    for n, source in enumerate(sources):
        nb, how = executed(source, ready)
        if found := errors(nb):
            raise SiteError(f"{source.stem} raised: " + "; ".join(found))
        frozen = freeze_widgets(nb, source.stem)
        heading = title(nb)
        near = [(f"{p.stem}.html", label) for p, label in (
            (sources[n - 1] if n else None, "← previous"),
            (sources[n + 1] if n + 1 < len(sources) else None, "next →"),
        ) if p]  # fmt: skip
        page = lesson_page(nb, heading, _nav(home + near))
        (out / f"{source.stem}.html").write_text(_links(page, names), encoding="utf-8")
        pages[f"{source.stem}.html"] = heading
        print(f"site: {source.stem}: {how}; {frozen} widget(s) as static figures", flush=True)
    for stem, heading in (("glossary", "Glossary"), ("defaults", "Defaults cheat sheet")):
        page = markdown_page(folder / f"{stem}.md", heading, _nav(home))
        (out / f"{stem}.html").write_text(_links(page, names), encoding="utf-8")
        pages[f"{stem}.html"] = heading
    index = markdown_page(
        folder / "README.md", "Event delivery: the course", _nav(home[1:]), STATIC_COPY
    )
    (out / "index.html").write_text(_links(index, names), encoding="utf-8")
    pages["index.html"] = "Event delivery: the course"
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    if size > MAX_BYTES:
        raise SiteError(f"the site is {size / 1e6:.1f} MB, over the 50 MB limit")
    print(f"site: {len(pages)} pages, {size / 1e6:.1f} MB in {out}; open {out / 'index.html'}")
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    parser.add_argument(
        "--executed",
        type=Path,
        action="append",
        default=[],
        help="a folder of already executed NN_*.ipynb to use as they are (repeatable)",
    )
    args = parser.parse_args(argv)
    try:
        build(args.out.resolve(), args.executed)
    except SiteError as exc:
        print(f"site: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
