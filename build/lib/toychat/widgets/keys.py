"""Safety numbers side by side: what Alice's phone and Bob's phone each show.

Press *Compare* to do what Alice and Bob would do in person: read the two
numbers against each other.  Equal numbers mean each phone holds the other
person's real keys; different numbers mean a key was substituted somewhere.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from ..client import Client
from ..keys import format_safety_number

__all__ = ["SafetyNumberWidget"]

_PANEL = widgets.Layout(width="48%", padding="6px", border="1px solid #767676")


class SafetyNumberWidget:
    """Two phones' safety numbers for their conversation, and a *Compare* button."""

    def __init__(self, first: Client, second: Client) -> None:
        self.first, self.second = first, second
        self.first_view = widgets.HTML()
        self.second_view = widgets.HTML()
        self.compare_button = widgets.Button(
            description="Compare", tooltip="Read the two numbers against each other", icon="check"
        )
        self.compare_button.add_class("toychat-compare")
        self.result = widgets.HTML()
        self.result.add_class("toychat-compare-result")
        self.compare_button.on_click(lambda _: self.compare())
        self.widget = widgets.VBox(
            [
                widgets.HBox(
                    [widgets.VBox([self.first_view], layout=_PANEL), widgets.VBox([self.second_view], layout=_PANEL)]
                ),
                self.compare_button,
                self.result,
            ]
        )
        self.widget.add_class("toychat-safety-numbers")
        self.refresh()

    def _panel(self, phone: Client, other: Client) -> str:
        number = html.escape(format_safety_number(phone.safety_number(other.name)))
        return (
            f"<b>On {html.escape(phone.name)}'s phone</b>, for the chat with {html.escape(other.name)}:"
            f"<pre style='font-size:1.1em'>{number}</pre>"
        )

    def refresh(self) -> None:
        """Recompute both numbers from the keys each phone holds now."""
        self.first_view.value = self._panel(self.first, self.second)
        self.second_view.value = self._panel(self.second, self.first)
        self.result.value = ""

    def compare(self) -> bool:
        """Compare the two numbers; show and return whether they match."""
        self.refresh()
        same = self.first.safety_number(self.second.name) == self.second.safety_number(self.first.name)
        self.result.value = (
            "<b>✓ The numbers match.</b> Each phone holds the other person's real keys."
            if same
            else "<b>✗ The numbers differ.</b> At least one phone holds a key that is not the other "
            "person's: someone (here, the key directory) substituted a key."
        )
        return same

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
