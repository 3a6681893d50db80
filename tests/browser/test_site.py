"""The static site (``make site``, in ``make test`` built after the lesson tests), opened
from disk in headless Chromium: the index links every lesson, each lesson page has its
title, at least one figure that the browser decoded, and no error output; the glossary and
defaults pages are there; the whole site is under 50 MB.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from conftest import BUILD, LESSONS, ROOT
from selenium.webdriver.common.by import By

SITE = ROOT / "build" / "site"
MAX_BYTES = 50 * 1024 * 1024

_PAGE_JS = """
const imgs = Array.from(document.querySelectorAll('.jp-OutputArea-output img'));
const stderr = Array.from(document.querySelectorAll(
  '[data-mime-type="application/vnd.jupyter.stderr"]')).map(e => e.innerText);
return {
  title: document.title,
  h1: (document.querySelector('h1') || {innerText: ''}).innerText.replace('¶', '').trim(),
  figures: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
  images: imgs.length,
  stderr: stderr,
  widgets: document.querySelectorAll('.jupyter-widgets, script[type*="widget"]').length,
  notes: document.querySelectorAll('p.needs-kernel').length,
};
"""


@pytest.fixture(scope="module")
def index() -> str:
    page = SITE / "index.html"
    if not page.exists():
        pytest.fail(f"no site at {SITE}: build it with `make site`", pytrace=False)
    return page.as_uri()


def test_the_site_is_smaller_than_50_mb(index):
    size = sum(p.stat().st_size for p in SITE.rglob("*") if p.is_file())
    assert size < MAX_BYTES, f"the site is {size / 1e6:.1f} MB"


def test_every_lesson_page_opened_from_disk_has_title_figure_and_no_error(index, driver):
    driver.get(index)
    links = {
        a.get_attribute("href"): a.text
        for a in driver.find_elements(By.CSS_SELECTOR, "a[href]")
        if re.search(r"/\d\d_\w+\.html$", a.get_attribute("href") or "")
    }
    linked = sorted(re.search(r"(\d\d_\w+)\.html$", href).group(1) for href in links)
    assert linked == [p.stem for p in LESSONS], "the index links every lesson once"
    for href in sorted(links):
        driver.get(href)
        assert href.startswith("file://"), href
        page = driver.execute_script(_PAGE_JS)
        lesson = href.rsplit("/", 1)[1]
        assert page["h1"] and page["title"] == page["h1"], f"{lesson}: title {page}"
        number = page["h1"].split(" ", 1)[0]
        assert number == str(int(lesson[:2])), f"{lesson}: heading {page['h1']!r}"
        assert page["figures"] >= 1, f"{lesson}: no figure ({page['images']} <img>)"
        errors = [s for s in page["stderr"] if "Traceback" in s or "Error" in s]
        assert errors == [], f"{lesson}: error output {errors[0][:300]!r}"
        assert page["widgets"] == 0, f"{lesson}: a widget left for a widget library to render"
        hrefs = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "a[href]")]
        local = {h.split("#")[0] for h in hrefs if h.startswith("file:")}
        broken = sorted(h for h in local if not Path(unquote(urlparse(h).path)).is_file())
        assert broken == [], f"{lesson}: links to missing files"
        assert (SITE / "glossary.html").as_uri() in local, f"{lesson} does not link the glossary"
        (BUILD / "site").mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(BUILD / "site" / lesson.replace(".html", ".png")))


def test_the_glossary_and_defaults_pages_have_their_anchors(index, driver):
    for page, anchor in (("glossary.html", "offset"), ("defaults.html", "kafka-clients")):
        driver.get((SITE / page).as_uri())
        assert driver.find_elements(By.ID, anchor), f"{page} has no #{anchor}"
