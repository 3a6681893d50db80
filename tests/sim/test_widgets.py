"""``explore``: a slider move redraws the picture in place, once, and what was drawn is kept.

No browser here: the widget's state is read on the kernel side (the PNG bytes the browser
would receive, the layout passes, the static ``image/png`` a page without a kernel shows).
"""

from __future__ import annotations

import io
from pathlib import Path

import ipywidgets as w
import pytest
from matplotlib.figure import Figure
from PIL import Image

from sim.course.widgets import LayoutCache, explore, layout_key, lesson_explorers

ROOT = Path(__file__).resolve().parents[2]


def _draw(n: int, label: str = "series") -> Figure:
    fig = Figure(figsize=(6, 3), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(range(n), [k * k for k in range(n)], label=label)
    ax.set(title=f"{n} points", xlabel="time (s)", ylabel="value (units)")
    ax.legend(loc="upper left")
    return fig


def _size(png: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(png)).size


def test_a_move_replaces_the_picture_and_a_value_seen_before_comes_from_the_cache():
    calls = []

    def draw(n):
        calls.append(n)
        return _draw(n)

    slider = w.IntSlider(value=10, min=2, max=40)
    box = explore(draw, n=slider)
    first = bytes(box.image.value)
    assert first.startswith(b"\x89PNG") and _size(first) == (600, 300)
    slider.value = 11
    assert bytes(box.image.value) != first and calls == [10, 11]
    slider.value = 10  # drawn before: no new run
    assert bytes(box.image.value) == first and calls == [10, 11]
    assert slider.continuous_update is False  # a drag redraws once, on release


def test_the_layout_is_computed_once_while_the_shape_holds():
    cache = LayoutCache()
    pngs = [cache.render(_draw(n)) for n in (11, 12, 13, 14)]  # y labels: 3 digits each
    assert (cache.computed, cache.reused) == (1, 3)
    assert len({_size(p) for p in pngs}) == 1
    cache.render(_draw(40))  # y tick labels get wider: lay out again
    assert cache.computed == 2
    cache.render(_draw(40, label="a much longer legend label"))
    assert cache.computed == 3


def test_a_reused_layout_puts_the_axes_where_a_fresh_one_would():
    cache = LayoutCache()
    cache.render(_draw(11))
    reused = _draw(12)
    cache.render(reused)
    fresh = _draw(12)
    fresh.savefig(io.BytesIO(), format="png")
    assert cache.reused == 1
    assert reused.axes[0].get_position().bounds == pytest.approx(
        fresh.axes[0].get_position().bounds, abs=0.01
    )
    assert layout_key(_draw(12)) == layout_key(_draw(13))


def test_the_displayed_widget_carries_the_picture_for_pages_without_a_kernel():
    box = explore(_draw, n=w.IntSlider(value=5, min=2, max=9))
    bundle = box._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["image/png"].startswith("iVBORw0KGgo")  # base64 of the PNG signature


def test_a_result_that_is_not_a_figure_is_displayed_instead_of_a_picture(capsys):
    box = explore(lambda n: f"table with {n} rows", n=w.IntSlider(value=3, min=1, max=5))
    assert box.image.layout.display == "none"
    assert "image/png" not in box._repr_mimebundle_()
    assert "table with 3 rows" in capsys.readouterr().out  # no kernel: display prints


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match='"controls"'):
        explore(_draw)
    with pytest.raises(ValueError, match='"columns"'):
        explore(_draw, columns=0, n=w.IntSlider())


@pytest.mark.parametrize(
    "lesson",
    ["01_two_models", "02_loss", "05_hot_partitions", "07_backpressure", "11_observability"],
)
def test_a_redrawn_lesson_figure_matches_a_fresh_one(lesson):
    """Through a lesson widget's moves (each control to its ends and one step), the figure
    redrawn in place -- reused axes, a reused layout -- has what a new figure drawn at the
    same values has: titles, labels, legend entries, limits, and axes within 2 px."""
    draw, controls = lesson_explorers(ROOT / "notebooks" / f"{lesson}.py")[0]
    shown = []
    box = explore(lambda **kw: shown.append(draw(**kw)) or shown[-1], **controls)
    assert bytes(box.image.value).startswith(b"\x89PNG")
    defaults = {n: c.value for n, c in controls.items()}
    moves = [
        {**defaults, name: value}
        for name, c in controls.items()
        for value in [*_ends(c), defaults[name]]
    ]
    compared = 0
    for values in moves:
        drawn = len(shown)
        for name, value in values.items():
            controls[name].value = value
        if len(shown) == drawn:
            continue  # a value seen before: a kept picture, nothing redrawn
        compared += 1
        redrawn = shown[-1]
        fresh = draw(**values)
        fresh.savefig(io.BytesIO(), format="png")
        assert _facts(redrawn) == _facts(fresh), values
        width, height = fresh.get_size_inches() * fresh.dpi
        for a, b in zip(redrawn.axes, fresh.axes, strict=True):
            x0, y0, w0, h0 = a.get_position().bounds
            x1, y1, w1, h1 = b.get_position().bounds
            assert abs(x0 - x1) * width < 2 and abs(w0 - w1) * width < 2, values
            assert abs(y0 - y1) * height < 2 and abs(h0 - h1) * height < 2, values
    assert compared >= 3


def _facts(fig: Figure) -> list:
    out = [fig.get_suptitle()]
    for ax in fig.axes:
        legend = ax.get_legend()
        out.append(
            (
                ax.get_title(),
                ax.get_xlabel(),
                ax.get_ylabel(),
                ax.get_xscale(),
                ax.get_yscale(),
                tuple(round(v, 6) for v in (*ax.get_xlim(), *ax.get_ylim())),
                None if legend is None else [t.get_text() for t in legend.get_texts()],
                len(ax.lines) + len(ax.collections) + len(ax.patches),
            )
        )
    return out


def _ends(widget) -> list:
    if hasattr(widget, "min"):
        return [widget.min, widget.max]
    return [o[1] if isinstance(o, tuple) else o for o in widget.options]


def test_the_text_form_says_what_it_is_and_carries_no_picture_bytes():
    box = explore(_draw, n=w.IntSlider(value=5, min=2, max=9))
    text = box._repr_mimebundle_()["text/plain"]
    assert text == "Interactive figure (n): a running kernel redraws it."


def test_a_failing_draw_raises_where_no_kernel_shows_it():
    def draw(n):
        if n > 3:
            raise ValueError('"n" must be at most 3')
        return _draw(n)

    slider = w.IntSlider(value=2, min=1, max=5)
    explore(draw, n=slider)
    with pytest.raises(ValueError, match='"n"'):
        slider.value = 5
