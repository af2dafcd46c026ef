"""The course's ``interact``: controls above a result that follows them, safe in every runner.

``ipywidgets.interact`` shows its function's output by *capturing* it: while the function
runs, the Output widget's ``msg_id`` is set to the running cell's, and a headless runner
(nbclient, and with it ``jupyter nbconvert --execute``, papermill, Voilà and MyST-NB) then
copies each captured output into its own copy of the widget and *sends the state back to the
kernel* on the shell socket, while it waits on that socket for the cell's reply.  That send can
consume ZeroMQ's edge-triggered wake-up for the reply, and the runner then waits for ever with
the kernel idle (see :mod:`toychat.kernel_wakeup` for the mechanism; Voilà users report the same:
voila-dashboards/voila#1428).  The course guards its own runners with
:func:`toychat.kernel_wakeup.install`, but an instructor's ``nbconvert`` or ``papermill`` does
not load it.

:func:`interact` removes the cause instead: it runs the function in the kernel with its output
collected there (:func:`IPython.utils.capture.capture_output`), then hands the result to the
Output widget as plain outputs (``Output.outputs``), so no ``msg_id`` is ever set and no runner
has anything to send back.  A saved notebook and the course site keep the widget's default
result in the widget state, as before.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
from IPython.display import display
from IPython.utils.capture import capture_output

__all__ = ["interact", "outputs_of"]


def outputs_of(function: Callable[..., object], **values: object) -> tuple[dict[str, Any], ...]:
    """Run ``function(**values)`` and return what it printed, displayed and returned, as
    notebook outputs (``stream`` then ``display_data``, as an Output widget holds them).

    A returned value other than ``None`` is displayed, as ``interact`` does; matplotlib figures
    the function drew are shown; an exception becomes its traceback on ``stderr`` (the control
    stays usable).

    >>> outputs_of(lambda n: print("n is", n), n=3)
    ({'output_type': 'stream', 'name': 'stdout', 'text': 'n is 3\\n'},)
    """
    failure = ""
    with capture_output(stdout=True, stderr=True, display=True) as captured:
        try:
            result = function(**values)
            if result is not None:
                display(result)
            _show_figures()
        except Exception:  # noqa: BLE001 - shown to the learner, as ipywidgets' interact does
            failure = traceback.format_exc()
    outputs: list[dict[str, Any]] = []
    if captured.stdout:
        outputs.append({"output_type": "stream", "name": "stdout", "text": captured.stdout})
    if captured.stderr or failure:
        outputs.append({"output_type": "stream", "name": "stderr", "text": captured.stderr + failure})
    outputs += [
        {"output_type": "display_data", "data": shown.data, "metadata": shown.metadata or {}}
        for shown in captured.outputs
    ]
    return tuple(outputs)


def _show_figures() -> None:
    """Display the matplotlib figures the function left open (the inline backend's flush)."""
    try:
        from matplotlib_inline.backend_inline import flush_figures
    except ImportError:  # pragma: no cover - matplotlib-inline ships with ipykernel
        return
    flush_figures()


def interact(function: Callable[..., object], **controls: widgets.ValueWidget) -> widgets.VBox:
    """Show ``controls`` above the output of ``function(**their values)``, and show it again
    whenever a control changes; returns the box (already displayed).

    Use it as ``ipywidgets.interact`` with widgets for every argument::

        interact(at_threshold, threshold=choice_slider("Threshold", list(range(21)), value=8));
    """
    out = widgets.Output()

    def render(_change: object = None) -> None:
        out.outputs = outputs_of(function, **{name: control.value for name, control in controls.items()})

    for control in controls.values():
        control.observe(render, names="value")
    render()
    box = widgets.VBox([*controls.values(), out], layout=widgets.Layout(width="100%"))
    box.add_class("widget-interact")  # ipywidgets' own class: the same look and the same test hooks
    display(box)
    return box
