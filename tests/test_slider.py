"""codebase.plot.slider: figures with sliders that need no kernel."""
import base64
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from codebase.plot import Slider, slider  # noqa: E402


def _draw(a, b=0.0):
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [b, a])
    ax.set_title(f"a={a} b={b}")
    return fig


def test_one_frame_per_combination_in_slider_order():
    s = slider(_draw, {"a": [1, 2, 3], "b": [0.0, 0.5]}, title="lines")
    assert isinstance(s, Slider) and len(s) == 6
    for frame in s.frames:
        assert base64.b64decode(frame).startswith(b"\x89PNG")
    # the frame of (a=2, b=0.5) is the fourth: a varies slowest
    again = slider(_draw, {"a": [2], "b": [0.5]}, title="one")
    assert s.frames[3] == again.frames[0]
    assert plt.get_fignums() == [], "every frame's figure is closed"


def test_html_has_one_range_input_per_slider_and_starts_where_asked():
    s = slider(_draw, {"a": [1, 2, 3], "b": [0.0, 0.5]}, start={"a": 2}, fmt="{:.1f}", title="lines")
    page = s._repr_html_()
    inputs = re.findall(r'<input type="range" min="0" max="(\d+)" step="1" value="(\d+)"', page)
    assert inputs == [("2", "2"), ("1", "0")]
    assert f'src="data:image/png;base64,{s.frames[4]}"' in page  # (a=3, b=0.0)
    assert "<output>3.0</output>" in page and "<output>0.0</output>" in page
    assert page == slider(_draw, {"a": [1, 2, 3], "b": [0.0, 0.5]}, start={"a": 2}, fmt="{:.1f}",
                          title="lines")._repr_html_(), "the HTML is the same on every run (nbval)"
    assert "6 frames" in repr(s) and "a: 1.0, 2.0, 3.0" in repr(s)


def test_sliders_show_their_names_or_their_keywords():
    s = slider(_draw, {"a": [1, 2], "b": [0.0]}, names={"a": "height <a>"}, title="lines")
    page = s._repr_html_()
    labels = re.findall(r'<label style="[^"]*"><span>([^<]*)</span><input[^>]*aria-label="([^"]*)"', page)
    assert labels == [("height &lt;a&gt;", "height &lt;a&gt;"), ("b", "b")]  # escaped; b keeps its keyword


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(draw=None, axes={"a": [1]}), TypeError, "draw"),
    (dict(draw=_draw, axes={}), ValueError, "axes"),
    (dict(draw=_draw, axes={"a": []}), ValueError, "axes"),
    (dict(draw=_draw, axes={"a": "123"}), ValueError, "axes"),
    (dict(draw=_draw, axes={"not a name": [1]}), ValueError, "keyword"),
    (dict(draw=_draw, axes={"a": [1, 2]}, start={"a": 2}), ValueError, "start"),
    (dict(draw=_draw, axes={"a": [1, 2]}, start={"c": 0}), ValueError, "start"),
    (dict(draw=lambda a: a, axes={"a": [1]}), TypeError, "Figure"),
    (dict(draw=_draw, axes={"a": list(range(30)), "b": list(range(30))}), ValueError, "frames"),
    (dict(draw=_draw, axes={"a": [1]}, names=["a"]), TypeError, "names"),
    (dict(draw=_draw, axes={"a": [1]}, names={"c": "see"}), ValueError, "names"),
    (dict(draw=_draw, axes={"a": [1]}, names={"a": ""}), TypeError, "names"),
])
def test_bad_input_is_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        slider(**kwargs)
