"""A notebook open in JupyterLab, as the browser tests see it: run, wait, inspect, move.

Everything reads the page the learner sees (the DOM) plus JupyterLab's own cell models
through ``window.jupyterapp`` (the server exposes it): the models say which outputs are
errors and which are widget views, the DOM says whether a widget view became a control or
stayed text ("Error displaying widget", ``VBox(children=...)``).

A figure counts as changed when the set of ``<img>`` sources inside the widget's cell output
changes and at least one image is there: that holds for an ``Output`` widget that re-displays
a PNG and for an ``ipywidgets.Image`` updated in place (a new blob or data URL).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from selenium.common.exceptions import JavascriptException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

#: How a widget looks when the page could not render it as a control.
TEXT_REPR = re.compile(
    r"\b(VBox|HBox|GridBox|Box|IntSlider|FloatSlider|SelectionSlider|Dropdown|Checkbox|"
    r"ToggleButtons|Output|Image|Tab)\((children|value|description|layout|options)="
)
#: What the widget manager shows instead of a widget it could not create.
RENDER_ERRORS = ("Error displaying widget", "Click to show javascript error")
CONTROLS = (
    ".widget-slider, .widget-dropdown, .widget-checkbox, .widget-toggle-buttons, "
    ".widget-radio, .widget-text, .widget-select, .jupyter-button"
)

_PANEL = "const p = window.jupyterapp && window.jupyterapp.shell.currentWidget;"

_STATE_JS = (
    _PANEL
    + """
if (!p || !p.content || !p.sessionContext) return null;
const k = p.sessionContext.session && p.sessionContext.session.kernel;
const cells = p.content.widgets.filter(c => c.model.type === 'code');
return {
  path: p.context.path, ready: p.context.isReady, dirty: p.context.model.dirty,
  status: k ? k.status : 'none',
  running: cells.filter(c => (c.promptNode ? c.promptNode.textContent : '').includes('*')).length,
  run: cells.filter(c => c.model.executionCount !== null).length,
  total: cells.length,
};
"""
)

_CELLS_JS = (
    _PANEL
    + """
const controls = arguments[0];
return p.content.widgets.map((c, index) => {
  if (c.model.type !== 'code') return null;
  const outputs = c.model.outputs.toJSON();
  const area = c.node.querySelector('.jp-Cell-outputArea');
  return {
    index, source: c.model.sharedModel.getSource(),
    count: c.model.executionCount,
    errors: outputs.filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue),
    widget_outputs: outputs.filter(
      o => o.data && o.data['application/vnd.jupyter.widget-view+json']).length,
    widget_views: area ? area.querySelectorAll(
      ':scope > .jp-OutputArea-child > .jp-OutputArea-output > .jupyter-widgets').length : 0,
    controls: c.node.querySelectorAll(controls).length,
    sliders: c.node.querySelectorAll('.widget-slider .noUi-handle').length,
    images: area ? area.querySelectorAll('img').length : 0,
    text: area ? area.innerText : '',
  };
}).filter(c => c !== null);
"""
)

# Arms a watcher on one cell: records when a key goes down and when the set of image
# sources in the cell's output differs from now's (with at least one image).
_ARM_JS = (
    _PANEL
    + """
const cell = p.content.widgets[arguments[0]];
const area = cell.node.querySelector('.jp-Cell-outputArea');
const sig = () => Array.from(area.querySelectorAll('img')).map(i => i.src).join('|');
const before = sig();
const w = {t0: null, t1: null, text: null};
window.__move = w;
document.addEventListener('keydown', () => { if (w.t0 === null) w.t0 = performance.now(); },
                          {capture: true, once: true});
const check = () => {
  const now = sig();
  if (w.t1 === null && now !== before && area.querySelectorAll('img').length > 0) {
    w.t1 = performance.now();
    obs.disconnect();
  }
};
const obs = new MutationObserver(check);
obs.observe(area, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
return before.length;
"""
)


_OPEN_JS = """
const app = window.jupyterapp;
if (!app) return false;
for (const w of Array.from(app.shell.widgets('main'))) {
  if (w.context) w.context.model.dirty = false;
  w.dispose();
}
app.commands.execute('docmanager:open', {path: arguments[0], factory: 'Notebook'});
return true;
"""


class LabError(AssertionError):
    """The page did not do what a learner expects (a test failure with the reason)."""


def _first_line(source: str) -> str:
    lines = [ln for ln in source.splitlines() if ln.strip() and not ln.startswith("#")]
    return (lines[0] if lines else source.strip()[:60])[:80]


@dataclass
class Notebook:
    """One notebook open in JupyterLab in ``driver``."""

    driver: object
    name: str
    moves_ms: list[float] = field(default_factory=list)

    # ------------------------------------------------------------------ open, run, save
    def open(self, url: str, timeout_s: float = 90.0) -> None:
        """Open the notebook: in the JupyterLab already loaded in the page when there is one
        of the same server (its open documents closed unsaved), else by loading ``url``."""
        same_lab = self.driver.current_url.startswith(url.split("/lab/", 1)[0])
        if not (same_lab and self.driver.execute_script(_OPEN_JS, self.name)):
            self.driver.get(url)
        self._wait(
            lambda s: s and s["path"].endswith(self.name) and s["ready"] and s["status"] == "idle",
            timeout_s,
            "the notebook to open with an idle kernel",
        )

    def state(self) -> dict | None:
        try:
            return self.driver.execute_script(_STATE_JS)
        except JavascriptException:
            return None

    def _wait(self, ok, timeout_s: float, what: str) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            state = self.state()
            if ok(state):
                return state
            if time.monotonic() > deadline:
                raise LabError(f"{self.name}: waited {timeout_s:.0f} s for {what}; last: {state}")
            time.sleep(0.25)

    def run_all(self, timeout_s: float) -> float:
        """Run > Run All Cells from the menu bar (the kernel is fresh: :meth:`open` started
        it); wait until the kernel is idle with no cell queued.

        Returns the seconds it took. Fails naming the cell still running at the timeout.
        """
        t0 = time.monotonic()
        menus = self.driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item")
        run = [m for m in menus if m.text.strip() == "Run"]
        if not run:
            raise LabError(f"{self.name}: no Run menu in JupyterLab's menu bar")
        run[0].click()
        self._click_when_present(".lm-Menu-item[data-command='runmenu:run-all']", 10.0)
        started = self._wait(
            lambda s: s and (s["running"] > 0 or s["status"] == "busy"), 30.0, "Run All to start"
        )
        deadline, quiet_since = t0 + timeout_s, None
        while True:
            state = self.state() or started
            if state["status"] == "idle" and state["running"] == 0:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= 0.5:
                    return time.monotonic() - t0
            else:
                quiet_since = None
            if time.monotonic() > deadline:
                busy = [c for c in self.cells() if c["count"] is None]
                where = (
                    f"cell {busy[0]['index']} ({_first_line(busy[0]['source'])!r})" if busy else "?"
                )
                raise LabError(
                    f"{self.name}: Run All did not finish within {timeout_s:.0f} s; "
                    f"still running or queued from {where}; kernel {state['status']}"
                )
            time.sleep(0.25)

    def _click_when_present(self, css: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            found = self.driver.find_elements(By.CSS_SELECTOR, css)
            if found:
                found[0].click()
                return
            if time.monotonic() > deadline:
                raise LabError(f"{self.name}: no {css!r} appeared within {timeout_s:.0f} s")
            time.sleep(0.1)

    def save(self, timeout_s: float = 30.0) -> None:
        """Save in the browser (with the widget state, as the settings ask)."""
        self.driver.execute_script(_PANEL + "p.context.save();")
        deadline = time.monotonic() + timeout_s
        while self.driver.execute_script(_PANEL + "return p.context.model.dirty;"):
            if time.monotonic() > deadline:
                raise LabError(f"{self.name}: saving did not finish within {timeout_s:.0f} s")
            time.sleep(0.2)

    # ------------------------------------------------------------------ inspect
    def cells(self) -> list[dict]:
        return self.driver.execute_script(_CELLS_JS, CONTROLS)

    def problems(self) -> list[str]:
        """What a learner would see go wrong, one line per problem (empty: all is well)."""
        found = []
        for c in self.cells():
            where = f"{self.name} cell {c['index']} ({_first_line(c['source'])!r})"
            if c["source"].strip() and c["count"] is None:
                found.append(f"{where}: did not run")
            found += [f"{where}: raised {e}" for e in c["errors"]]
            failed = [ln for ln in c["text"].splitlines() if any(m in ln for m in RENDER_ERRORS)]
            if failed:
                found.append(f"{where}: its widget failed to render: {failed[0].strip()!r}")
            elif c["widget_outputs"] and (not c["widget_views"] or not c["controls"]):
                found.append(
                    f"{where}: its widget renders as text, not as a control: "
                    f"{c['text'].strip()[:100]!r}"
                )
            if TEXT_REPR.search(c["text"]):
                found.append(f"{where}: shows a widget's text repr: {c['text'].strip()[:100]!r}")
            if "Traceback (most recent call last)" in c["text"]:
                found.append(f"{where}: shows a traceback")
        return found

    def widget_cells(self) -> list[dict]:
        return [c for c in self.cells() if c["widget_outputs"]]

    def screenshot(self, path, cell_index: int | None = None) -> None:
        if cell_index is not None:
            self.driver.execute_script(
                _PANEL + "p.content.widgets[arguments[0]].node.scrollIntoView();", cell_index
            )
            time.sleep(0.3)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))

    # ------------------------------------------------------------------ act
    def _cell_element(self, index: int):
        return self.driver.execute_script(
            _PANEL + "return p.content.widgets[arguments[0]].node;", index
        )

    def sliders(self, index: int, label: str = "") -> list:
        """The slider handles of cell ``index`` whose label starts with ``label``."""
        return [
            s.find_element(By.CSS_SELECTOR, ".noUi-handle")
            for s in self._cell_element(index).find_elements(By.CSS_SELECTOR, ".widget-slider")
            if s.find_element(By.CSS_SELECTOR, ".widget-label").text.startswith(label)
        ]

    def output_text(self, index: int) -> str:
        """The text of the widget's output (the recommendation in lesson 12), images aside."""
        area = self._cell_element(index).find_elements(By.CSS_SELECTOR, ".jp-Cell-outputArea")
        return area[0].text if area else ""

    def press(self, index: int, element, key: str, timeout_s: float = 30.0) -> float:
        """Press ``key`` on ``element`` (a slider handle, a checkbox) inside cell ``index``;
        wait for a new figure there and return the key-to-figure time in ms."""
        self.driver.execute_script(_ARM_JS, index)
        element.send_keys(key)
        deadline = time.monotonic() + timeout_s
        while True:
            w = self.driver.execute_script("return window.__move;")
            if w["t1"] is not None:
                break
            if time.monotonic() > deadline:
                raise LabError(
                    f"{self.name}: no new figure within {timeout_s:.0f} s after pressing a key"
                    f" on the widget of cell {index} (key seen by the page: {w['t0'] is not None};"
                    f" value now {element.get_attribute('aria-valuenow')})"
                )
            time.sleep(0.02)
        self._wait(lambda s: s and s["status"] == "idle", timeout_s, "the kernel after a move")
        return max(0.0, w["t1"] - w["t0"]) if w["t0"] is not None else float("nan")

    def move_slider(
        self, index: int, moves: int = 5, label: str = "", timeout_s: float = 30.0
    ) -> list[float]:
        """Move the first slider of cell ``index`` (whose label starts with ``label``)
        ``moves`` times with the arrow keys, away from the nearer end: each move goes to a
        value not drawn before (the widget keeps pictures it drew, so a move back would time
        the cache, not a redraw) and must bring a new figure."""
        found = self.sliders(index, label)
        if not found:
            raise LabError(f"{self.name}: no slider labelled {label!r}... in cell {index}")
        handle = found[0]
        now = float(handle.get_attribute("aria-valuenow"))
        low = float(handle.get_attribute("aria-valuemin"))
        high = float(handle.get_attribute("aria-valuemax"))
        up = Keys.ARROW_RIGHT if high - now >= now - low else Keys.ARROW_LEFT
        end = high if up == Keys.ARROW_RIGHT else low
        times = []
        for _ in range(moves):  # at most ``moves``: a short range ends sooner
            times.append(self.press(index, handle, up, timeout_s))
            if float(handle.get_attribute("aria-valuenow")) == end:
                break
        self.moves_ms += times
        return times
