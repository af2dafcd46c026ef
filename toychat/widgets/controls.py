"""Controls with readable labels: the course's one way to make a slider.

ipywidgets' defaults cut a description at about ten characters ("report_rat…")
and print the raw value ("0.0794" where the lesson speaks of "0.08%").
:func:`choice_slider` offers a fixed list of values, each shown formatted with
its unit, under a description given room to be read in full.

>>> s = choice_slider("Report rate (% of victims who report)", [0.001, 0.01, 0.1], value=0.01, fmt="{:.1%}")
>>> s.value, s.label
(0.01, '1.0%')
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets

__all__ = ["choice_slider", "description_width"]

#: Width (in character widths) the slider bar itself gets, after the description.
_BAR_EM = 18


def description_width(description: str) -> str:
    """A CSS width that fits ``description`` in full at JupyterLab's widget font.

    >>> description_width("Prevalence")
    '7.0em'
    """
    # Average glyph width of the widget font is about 0.55 em; pad a little.
    return f"{max(6.0, round(len(description) * 0.55 + 1.5, 1))}em"


def choice_slider(
    description: str,
    values: Sequence[float],
    *,
    value: float,
    fmt: str = "{:g}",
) -> widgets.SelectionSlider:
    """A slider over ``values`` whose readout is each value formatted by ``fmt``.

    ``description`` should be words with units ("Daily messages (millions)"),
    not a variable name; it is shown in full.  ``value`` must be one of
    ``values``: a slider that starts between two stops would misreport itself.
    """
    options = [(fmt.format(v), v) for v in values]
    if value not in values:
        raise ValueError(f"choice_slider: the starting value {value!r} is not one of the stops")
    width = description_width(description)
    slider = widgets.SelectionSlider(
        options=options,
        value=value,
        description=description,
        continuous_update=False,
        style={"description_width": width},
        layout=widgets.Layout(width=f"calc({width} + {_BAR_EM}em)", max_width="100%"),
    )
    slider.add_class("toychat-slider")
    return slider
