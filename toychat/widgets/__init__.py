"""Interactive widgets for the lessons (presentation layer: used by notebooks only).

One module per widget family; lesson 03 uses :class:`ChatWidget`.
"""

from .chat import ChatWidget

__all__ = ["ChatWidget"]
