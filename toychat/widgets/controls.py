"""Controls with readable labels: the course's one way to make a slider.

ipywidgets' sliders cut a description at about ten characters ("report_rat…"),
print the raw value ("0.0794" where the lesson speaks of "0.08%"), and draw
their handle (noUiSlider) with no accessible name, so a screen reader announces
"slider, 3" and not what it sets.  :class:`ChoiceSlider` is a native
``<input type="range">`` (through anywidget, a small, well-kept library for
custom widgets) with a ``<label>`` that names it, a readout in words with
units, and ``aria-valuetext`` carrying the same words; the keyboard moves it
one stop at a time.  The label has its own line above the track, so the sliders
of one group all start at the same place, however long their labels.
:func:`choice_slider` makes one.

>>> s = choice_slider("Report rate (% of victims who report)", [0.001, 0.01, 0.1], value=0.01, fmt="{:.1%}")
>>> s.value, s.label
(0.01, '1.0%')
>>> s.value = 0.1
>>> s.index, s.label
(2, '10.0%')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anywidget
import ipywidgets as widgets
import traitlets

__all__ = ["ChoiceSlider", "choice_slider", "description_width"]

_ESM = """
let counter = 0;
function render({ model, el }) {
  const id = `toychat-choice-slider-${Date.now().toString(36)}-${counter++}`;
  const wrap = document.createElement("div");
  wrap.className = "toychat-choice-slider";
  // Arrow keys move the slider, not JupyterLab's cell selection.
  wrap.setAttribute("data-lm-suppress-shortcuts", "true");
  const label = document.createElement("label");
  label.htmlFor = id;
  const input = document.createElement("input");
  input.type = "range";
  input.id = id;
  input.min = "0";
  input.step = "1";
  const output = document.createElement("output");
  output.htmlFor = id;
  output.setAttribute("aria-live", "polite");
  const show = (index) => {
    const text = model.get("labels")[index] ?? "";
    output.textContent = text;
    input.setAttribute("aria-valuetext", text);
  };
  const sync = () => {
    label.textContent = model.get("description");
    input.max = String(model.get("labels").length - 1);
    input.value = String(model.get("index"));
    show(model.get("index"));
  };
  input.addEventListener("keydown", (event) => event.stopPropagation());
  input.addEventListener("input", () => show(Number(input.value)));
  input.addEventListener("change", () => {
    model.set("index", Number(input.value));
    model.save_changes();
  });
  model.on("change:index", sync);
  model.on("change:labels", sync);
  model.on("change:description", sync);
  sync();
  wrap.append(label, input, output);
  el.append(wrap);
}
export default { render };
"""

#: The label sits above its slider, so every slider's track starts at the same place, whatever
#: the length of its label: the sliders of one group (an ``interact``) line up, and their stops can
#: be compared by eye.  (Beside a label, each track started where its own label ended.)
_CSS = """
.toychat-choice-slider { display: grid; grid-template-columns: 16em minmax(6em, max-content);
  grid-template-areas: "label label" "input output"; column-gap: 0.75em; row-gap: 2px;
  align-items: center; margin: 4px 0 8px;
  font-size: var(--jp-widgets-font-size, 13px); color: var(--jp-widgets-label-color, inherit); }
.toychat-choice-slider label { grid-area: label; text-align: left; }
.toychat-choice-slider input[type=range] { grid-area: input; width: 16em; max-width: 100%; margin: 0;
  accent-color: #0072B2; }
.toychat-choice-slider output { grid-area: output; font-variant-numeric: tabular-nums; font-weight: 600; }
"""


def description_width(description: str) -> str:
    """A CSS width that fits ``description`` in full at JupyterLab's widget font.

    >>> description_width("Prevalence")
    '7.0em'
    """
    # Average glyph width of the widget font is about 0.55 em; pad a little.
    return f"{max(6.0, round(len(description) * 0.55 + 1.5, 1))}em"


class ChoiceSlider(anywidget.AnyWidget, widgets.ValueWidget):
    """A slider over a fixed list of values, each shown as words with units.

    ``value`` is the chosen value (Python side); ``index`` and ``labels`` are what
    the browser sees.  It is a ``ValueWidget``, so ``widgets.interactive`` and
    ``widgets.interactive_output`` take it like any ipywidgets slider.
    """

    _esm = _ESM
    _css = _CSS
    description = traitlets.Unicode("").tag(sync=True)
    #: The width the description needs (it has its own line above the track, so it is never cut).
    description_width = traitlets.Unicode("8em").tag(sync=True)
    labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    index = traitlets.Int(0).tag(sync=True)
    value = traitlets.Any(None)

    def __init__(self, values: Sequence[Any], labels: Sequence[str], *, value: Any, description: str) -> None:
        if len(values) != len(labels) or not values:
            raise ValueError("ChoiceSlider: give one label for each of at least one value")
        self._values = list(values)
        super().__init__(
            labels=list(labels),
            index=self._values.index(value),
            value=value,
            description=description,
            description_width=description_width(description),
        )

    @property
    def options(self) -> list[tuple[str, Any]]:
        """(label, value) for every stop, as ipywidgets' SelectionSlider has them."""
        return list(zip(self.labels, self._values, strict=True))

    @property
    def label(self) -> str:
        """The chosen value as the reader sees it."""
        return self.labels[self.index]

    @traitlets.observe("index")
    def _index_moved(self, change: dict[str, Any]) -> None:
        self.value = self._values[change["new"]]

    @traitlets.validate("value")
    def _value_is_a_stop(self, proposal: dict[str, Any]) -> Any:
        if proposal["value"] not in self._values:
            raise traitlets.TraitError(f"{proposal['value']!r} is not one of the slider's stops")
        return proposal["value"]

    @traitlets.observe("value")
    def _value_set(self, change: dict[str, Any]) -> None:
        self.index = self._values.index(change["new"])


def choice_slider(
    description: str,
    values: Sequence[float],
    *,
    value: float,
    fmt: str = "{:g}",
) -> ChoiceSlider:
    """A slider over ``values`` whose readout is each value formatted by ``fmt``.

    ``description`` should be words with units ("Daily messages (millions)"),
    not a variable name; it is shown in full.  ``value`` must be one of
    ``values``: a slider that starts between two stops would misreport itself.
    """
    if value not in values:
        raise ValueError(f"choice_slider: the starting value {value!r} is not one of the stops")
    return ChoiceSlider(list(values), [fmt.format(v) for v in values], value=value, description=description)
