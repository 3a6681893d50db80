"""The glossary and the defaults cheat sheet: every link to them resolves, every lesson links
them, and every version they state is the one the project pins.

Pins are read from ``pyproject.toml`` (the Python clients) and ``labs.stack.config``
(the Kafka version of the broker the course runs). Offline: no broker, no notebook kernel.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from labs.stack.config import KAFKA_VERSION

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PAGES = ("glossary.md", "defaults.md")
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
#: A markdown link to one of the pages, with an optional anchor: ](glossary.md#offset)
LINK = re.compile(r"\]\((glossary\.md|defaults\.md)(?:#([^)\s]+))?\)")
#: A link inside a page to one of its own anchors: ](#isr)
SELF_LINK = re.compile(r"\]\(#([^)\s]+)\)")
#: A stated three-part version of a pinned component: "kafka-python 3.0.12", "Kafka 4.1.1".
VERSION = re.compile(r"\b(Kafka|kafka-python|confluent-kafka|redis-py) (\d+\.\d+\.\d+)\b")
LIBRDKAFKA = re.compile(r"\blibrdkafka (\d+\.\d+(?:\.\d+)?)\b")


def pins() -> dict[str, str]:
    """Component -> the version the project pins."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    python = dict(dep.split("==", 1) for dep in project["dependencies"] if "==" in dep)
    return {
        "Kafka": KAFKA_VERSION,
        "kafka-python": python["kafka-python"],
        "confluent-kafka": python["confluent-kafka"],
        "redis-py": python["redis"],
    }


def slug(heading: str) -> str:
    """The anchor GitHub derives from a markdown heading."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Explicit ``<a id="...">`` anchors and heading anchors of a markdown page."""
    found = set(re.findall(r'<a id="([^"]+)"></a>', text))
    found.update(slug(m) for m in re.findall(r"^#{1,6} (.+)$", text, flags=re.M))
    return found


def version_mismatches(text: str, pinned: dict[str, str]) -> list[str]:
    """Every stated version in ``text`` that differs from ``pinned``."""
    bad = [
        f"{name} {ver} (pinned: {pinned[name]})"
        for name, ver in VERSION.findall(text)
        if ver != pinned[name]
    ]
    minor = ".".join(pinned["confluent-kafka"].split(".")[:2])
    bad += [
        f"librdkafka {ver} (confluent-kafka {pinned['confluent-kafka']} bundles {minor})"
        for ver in LIBRDKAFKA.findall(text)
        if not (ver == minor or ver.startswith(minor + "."))
    ]
    return bad


PAGE_ANCHORS = {page: anchors((NOTEBOOKS / page).read_text(encoding="utf-8")) for page in PAGES}


def _sources() -> list[Path]:
    return [*LESSONS, *(NOTEBOOKS / p for p in ("README.md", *PAGES))]


@pytest.mark.parametrize("path", _sources(), ids=lambda p: p.name)
def test_every_link_to_the_glossary_or_the_cheat_sheet_resolves(path):
    text = path.read_text(encoding="utf-8")
    for page, anchor in LINK.findall(text):
        assert (NOTEBOOKS / page).is_file(), f"{path.name} links to missing {page}"
        if anchor:
            assert anchor in PAGE_ANCHORS[page], (
                f"{path.name} links to {page}#{anchor}, which has no such anchor"
            )
    if path.name in PAGES:
        for anchor in SELF_LINK.findall(text):
            assert anchor in PAGE_ANCHORS[path.name], f"{path.name}: no anchor #{anchor}"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.name)
def test_every_lesson_links_the_glossary_in_its_introduction(lesson):
    text = lesson.read_text(encoding="utf-8")
    intro = text.split("# %% [markdown]", 1)[1].split("# %%", 1)[0]
    assert "](glossary.md" in intro and "](defaults.md" in intro, (
        f"{lesson.name}: its first markdown cell should link glossary.md and defaults.md"
    )


def test_the_course_readme_lists_both_pages():
    readme = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    assert "](glossary.md)" in readme and "](defaults.md)" in readme


def test_the_glossary_defines_the_terms_the_lessons_use():
    needed = {"offset", "high-watermark", "log-end-offset", "isr", "elr", "pel", "generation",
              "member-epoch", "lag", "log-start-offset", "segment", "retention", "compaction",
              "tombstone", "acks", "min-insync-replicas", "idempotent-producer",
              "transactional-id", "read-committed", "consumer-group", "rebalance",
              "static-membership", "pubsub-channel", "sharded-pubsub", "output-buffer-limit",
              "xadd", "xreadgroup", "xack", "xautoclaim", "maxlen"}  # fmt: skip
    assert needed <= PAGE_ANCHORS["glossary.md"], needed - PAGE_ANCHORS["glossary.md"]


@pytest.mark.parametrize("page", PAGES)
def test_stated_versions_are_the_pinned_ones(page):
    text = (NOTEBOOKS / page).read_text(encoding="utf-8")
    assert version_mismatches(text, pins()) == []


def test_the_cheat_sheet_states_every_pinned_version():
    text = (NOTEBOOKS / "defaults.md").read_text(encoding="utf-8")
    stated = set(VERSION.findall(text))
    for name, ver in pins().items():
        assert (name, ver) in stated, f"defaults.md should state {name} {ver}"


def test_the_version_check_catches_a_wrong_version():
    pinned = pins()
    major, minor, patch = pinned["kafka-python"].split(".")
    wrong = f"{major}.{minor}.{int(patch) + 1}"
    assert version_mismatches(f"kafka-python {wrong}", pinned) == [
        f"kafka-python {wrong} (pinned: {pinned['kafka-python']})"
    ]
    assert version_mismatches("librdkafka 1.9", pinned), "a librdkafka of another release"
