"""Interactive widgets for the lessons (presentation layer: used by notebooks only).

One module per widget family: :mod:`.chat` (lessons 03-04, and 08 with ``reporting=True``), :mod:`.keys` (lesson 04),
:mod:`.controls` (the course's sliders, with readable labels and units).
"""

from .chat import ChatWidget
from .controls import choice_slider
from .interact import interact
from .keys import SafetyNumberWidget

__all__ = ["ChatWidget", "SafetyNumberWidget", "choice_slider", "interact"]
