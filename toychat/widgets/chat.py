"""The three-view chat: Alice's phone, what the server stores, Bob's phone.

Type a message as Alice and press Enter (or *Send*): the middle column shows the row the
server keeps for it, and Bob's column shows what his phone decrypts.  The
toggle at the top switches between the *end-to-end encrypted* platform and a
*plaintext platform* (transport encryption only), starting a fresh
conversation each time, so the two server views can be compared.

With ``reporting=True`` (lesson 08) the E2EE platform runs message franking:
Bob's column gains a *Report last message* button with a choice between
"only that message" and "with 5 earlier (WhatsApp-style)", and the server
column shows what the reports told the platform.  A reporting chat offers the
two platforms reporting is about (E2EE and plaintext), not the dishonest key
directory of lesson 04.

Every control fits its column at JupyterLab's usual width (no cut labels), and
the server's rows stay one line high: ciphertext is shown as its first bytes
in hex, never wrapped mid-string.

The widget is a thin view over :class:`toychat.Server` and
:class:`toychat.Client`; :meth:`ChatWidget.send` does exactly what the button
does, so notebooks and tests can drive it from code.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

import ipywidgets as widgets

from ..client import Client
from ..clock import Clock, SimulatedClock
from ..errors import ToyChatError
from ..franking import FrankingService
from ..keys import Identity
from ..mitm import MitmServer
from ..reporting import report_with_context
from ..server import Server

__all__ = ["EMPTY_VIEWS", "ChatWidget"]


def _column(grow: float) -> widgets.Layout:
    """A column that shares the row's width in proportion ``grow`` and never overflows it."""
    return widgets.Layout(flex=f"{grow} 1 0", min_width="0", padding="6px", border="1px solid #767676")


def _label_above() -> widgets.Layout:
    """The layout of a labelled control (a drop-down) whose label sits above it, full width.

    ipywidgets draws a labelled control as a one-line flex box of fixed height (28 px); turned
    into a column, that box keeps its height, the label fills it, and the menu shrinks to a grey
    line drawn under whatever comes next.  A one-column grid whose height follows its content
    gives the label its line and the menu a row of the usual control height.
    """
    return widgets.Layout(
        width="calc(100% - 4px)",  # the widget's 2-px margins fit too
        height="auto",
        display="grid",
        grid_template_columns="minmax(0, 1fr)",
        grid_template_rows="auto var(--jp-widgets-inline-height, 28px)",
        align_items="stretch",
    )


#: Table style of the server and report views: compact rows, 13 px (10 pt) text.
_TABLE = "style='border-collapse:collapse;width:100%;font-size:13px;line-height:1.35'"
_CELL = "style='padding:1px 4px;vertical-align:top'"
#: A cell of readable message text, which may break anywhere (see ``_LINES``).
_TEXT_CELL = "style='padding:1px 4px;vertical-align:top;overflow-wrap:anywhere'"
_NOWRAP = "style='padding:1px 4px;vertical-align:top;white-space:nowrap'"
#: Message lists at normal text spacing (ipywidgets sets a 28-px line height).  A message may
#: break anywhere: one long unbroken word (a URL) wraps inside its phone instead of running past
#: the column's edge, where the column cuts it off.
_WRAP = "overflow-wrap:anywhere"
_LINES = f"<div style='line-height:1.4;{_WRAP}'>{{}}</div>"
#: Hex digits of a ciphertext the server view shows (the rest is elided).
_HEX_SHOWN = 8
_MODE_LABELS = {
    "e2ee": "End-to-end encrypted",
    "plaintext": "Plaintext platform (TLS only)",
    "mitm": "E2EE, dishonest key directory",
}
_TOOLTIPS = {
    "e2ee": "Messages encrypted on Alice's phone for Bob's key",
    "plaintext": "Only the connection is encrypted",
    "mitm": "The server hands out keys it made itself (lesson 04)",
}
#: The report button's two choices: how many earlier messages go with the report.
_REPORT_SCOPES = (("only that message", 0), ("with 5 earlier (WhatsApp-style)", 5))
#: The platforms a reporting chat offers by default.
_REPORTING_MODES = ("e2ee", "plaintext")
#: What Alice's, the server's and Bob's views say before the first message: a chat frozen in this
#: state (on the course site, where nothing runs) would show an empty window.
NOTHING_SENT = "Nothing sent yet."
NOTHING_STORED = "The server has stored nothing yet."
NO_MESSAGES = "No messages yet."
EMPTY_VIEWS = (NOTHING_SENT, NOTHING_STORED, NO_MESSAGES)


def _time(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%H:%M:%S")


def _content_cell(content_seen: str) -> str:
    """What the server can read, as one table cell: ciphertext shortened to its
    first bytes and kept on one line; readable text wrapped at word breaks.

    >>> _content_cell("ciphertext 0302be606061378cbcd21c2b… (87 bytes)")
    "<td style='padding:1px 4px;vertical-align:top;white-space:nowrap'><code>ciphertext 0302be60…</code></td>"
    """
    if content_seen.startswith("ciphertext "):
        digits = content_seen.split()[1].rstrip("…")[:_HEX_SHOWN]
        return f"<td {_NOWRAP}><code>ciphertext {html.escape(digits)}…</code></td>"
    return f"<td {_TEXT_CELL}><code>{html.escape(content_seen)}</code></td>"


class ChatWidget:
    """Alice, the server and Bob side by side.

    Parameters
    ----------
    mode:
        ``"e2ee"`` (default), ``"plaintext"``, or ``"mitm"``: E2EE through a
        dishonest key directory (:class:`~toychat.mitm.MitmServer`) that
        intercepts Alice and Bob.
    modes:
        Which platforms the toggle offers; default: all three.
    label:
        Seeds Alice's and Bob's keys (teaching only), so the lesson repeats.
    clock:
        A zero-argument callable giving UNIX seconds; default: a
        :class:`~toychat.clock.SimulatedClock` stepping 7 s per reading.
    reporting:
        Add abuse reporting (lesson 08): the E2EE platforms run
        :class:`~toychat.franking.FrankingService`, Bob gets a report button,
        and the server column lists what reports revealed; the toggle offers
        E2EE and plaintext unless ``modes`` says otherwise.  Default ``False``:
        the widget is exactly the lesson 03 chat.
    """

    def __init__(
        self,
        mode: str = "e2ee",
        *,
        label: str = "chat-widget",
        clock: Clock | None = None,
        modes: tuple[str, ...] | None = None,
        reporting: bool = False,
    ) -> None:
        self.label = label
        self.reporting = reporting
        self.clock: Clock = clock if clock is not None else SimulatedClock(step=7.0)
        if modes is None:
            modes = _REPORTING_MODES if reporting else tuple(_MODE_LABELS)
        self.mode_toggle = widgets.ToggleButtons(
            options=[(_MODE_LABELS[key], key) for key in modes],
            tooltips=[_TOOLTIPS[key] for key in modes],
            value=mode,
            description="Platform:",
            style={"button_width": "auto"},
        )
        self.mode_toggle.add_class("toychat-mode")
        self.message = widgets.Text(
            placeholder="Type here, then press Enter",
            layout=widgets.Layout(width="calc(100% - 4px)"),  # the widget's 2-px margins fit too
        )
        self.message.add_class("toychat-alice-input")
        self.send_button = widgets.Button(
            description="Send to Bob",
            button_style="primary",
            tooltip="Encrypt (if E2EE), sign and send",
            icon="paper-plane",
            layout=widgets.Layout(width="auto", max_width="100%"),
        )
        self.send_button.add_class("toychat-send")
        self.alice_view = widgets.HTML()
        self.server_view = widgets.HTML()
        self.server_view.add_class("toychat-server-view")
        self.bob_view = widgets.HTML()
        self.bob_view.add_class("toychat-bob-view")
        self.status = widgets.HTML()
        self.status.add_class("toychat-status")

        self.send_button.on_click(lambda _: self._send_from_box())
        # Enter in the text box sends, as in every chat app: the browser's text box reports it as a
        # "submit" message (Text.on_submit, which does the same, is deprecated in ipywidgets 8).
        self.message.on_msg(self._message_box_event)
        self.mode_toggle.observe(lambda change: self.reset(change["new"]), names="value")

        alice_col = widgets.VBox(
            [
                widgets.HTML("<h4>Alice's phone</h4><label>Message to Bob</label>"),
                self.message,
                self.send_button,
                self.alice_view,
            ],
            layout=_column(1),
        )
        self.report_button = widgets.Button(
            description="Report last message",
            button_style="danger",
            icon="flag",
            tooltip="Send the last message Bob received to the platform, with its franking proof",
            layout=widgets.Layout(width="auto", max_width="100%"),
        )
        self.report_button.add_class("toychat-report")
        # The description is the menu's own <label>, so a screen reader names the menu; the
        # layout puts it above the menu, where Bob's narrow column has room for both.
        self.report_scope = widgets.Dropdown(
            options=list(_REPORT_SCOPES),
            value=0,
            description="What a report sends",
            style={"description_width": "initial"},
            layout=_label_above(),
        )
        self.report_scope.add_class("toychat-report-scope")
        self.reports_view = widgets.HTML()
        self.reports_view.add_class("toychat-reports-view")
        self.report_button.on_click(lambda _: self.report(self.report_scope.value))

        server_parts: list[widgets.Widget] = [widgets.HTML("<h4>What the server stores</h4>"), self.server_view]
        bob_parts: list[widgets.Widget] = [widgets.HTML("<h4>Bob's phone</h4>"), self.bob_view]
        if reporting:
            server_parts += [widgets.HTML("<h4>What reports told the platform</h4>"), self.reports_view]
            bob_parts += [self.report_scope, self.report_button]
        server_col = widgets.VBox(server_parts, layout=_column(1.6))
        bob_col = widgets.VBox(bob_parts, layout=_column(1))
        self.widget = widgets.VBox(
            [
                self.mode_toggle,
                widgets.HBox([alice_col, server_col, bob_col], layout=widgets.Layout(width="100%")),
                self.status,
            ]
        )
        self.widget.add_class("toychat-chat")
        self.reset(mode)

    # ---- the model -------------------------------------------------------------------
    def reset(self, mode: str) -> None:
        """Start a fresh conversation on the ``mode`` platform (same people, same keys)."""
        if mode not in _MODE_LABELS:
            raise ValueError(f"mode must be one of {tuple(_MODE_LABELS)}, not {mode!r}")
        self.mode = mode
        self.server = MitmServer(clock=self.clock) if mode == "mitm" else Server(mode=mode, clock=self.clock)  # type: ignore[arg-type]
        self.alice = Client("alice", self.server, identity=Identity.from_label("alice", self.label))
        self.bob = Client("bob", self.server, identity=Identity.from_label("bob", self.label))
        if isinstance(self.server, MitmServer):
            self.server.intercept("alice", "bob")
        if self.reporting and mode != "plaintext":
            self.server.franking = FrankingService()
        self._alice_wrote: list[tuple[float, str]] = []
        if self.mode_toggle.value != mode:
            self.mode_toggle.value = mode  # fires reset again, harmlessly
        self.status.value = f"<i>New conversation on the {html.escape(_MODE_LABELS[mode])} platform.</i>"
        self._render()

    def send(self, text: str) -> None:
        """Alice sends ``text`` to Bob; Bob's phone fetches and opens it."""
        refused_before = len(self.bob.rejected)
        try:
            envelope = self.alice.send("bob", text)
            self.bob.receive(strict=False)
        except ToyChatError as exc:
            self.status.value = f"<b>Refused:</b> {html.escape(str(exc))}"
        else:
            self._alice_wrote.append((envelope.timestamp, text))
            self.status.value = "".join(
                f"<b>Bob's phone refused a message:</b> {html.escape(str(r.error))}<br>"
                for r in self.bob.rejected[refused_before:]
            )
        self._render()

    def report(self, context: int = 0) -> None:
        """Bob reports the last message he received, with up to ``context`` earlier ones from its sender.

        Does what the *Report last message* button does (the button passes the
        dropdown's choice: 0 or 5).  Refusals — nothing to report, a platform
        without franking, a second report of the same message — appear in the
        status line; what the platform learned appears in the server column.
        """
        if not self.reporting:
            raise ToyChatError("this chat was made without reporting; use ChatWidget(reporting=True).")
        if not self.bob.inbox:
            self.status.value = "<b>Nothing to report:</b> Bob has not received a message yet."
            return
        last = self.bob.inbox[-1]
        try:
            table = report_with_context(self.bob, last.msg_id, last=context)
        except ToyChatError as exc:
            self.status.value = f"<b>Report refused:</b> {html.escape(str(exc))}"
        else:
            extra = len(table) - 1
            self.status.value = (
                f"<b>Report verified:</b> the platform checked {len(table)} franked message(s) from "
                f"{html.escape(last.sender)} — the reported one and {extra} earlier one(s) as context."
            )
        self._render()

    def _message_box_event(self, _widget: object, content: object, _buffers: object) -> None:
        if isinstance(content, dict) and content.get("event") == "submit":
            self._send_from_box()

    def _send_from_box(self) -> None:
        text = self.message.value
        if text:
            self.message.value = ""
            self.send(text)

    # ---- the views ---------------------------------------------------------------------
    def _render(self) -> None:
        self.alice_view.value = _LINES.format(
            "".join(f"<div>{_time(ts)} <b>to bob:</b> {html.escape(text)}</div>" for ts, text in self._alice_wrote)
            or f"<i>{NOTHING_SENT}</i>"
        )
        rows = "".join(
            "<tr>"
            f"<td {_NOWRAP}>{_time(e.received_at)}</td><td {_CELL}>{html.escape(e.sender)}</td>"
            f"<td {_CELL}>{html.escape(e.recipient)}</td><td {_NOWRAP}>{e.size_bytes}</td>"
            f"{_content_cell(e.content_seen)}"
            "</tr>"
            for e in self.server.log
        )
        self.server_view.value = (
            f"<table {_TABLE}><thead><tr><th>time</th><th>from</th><th>to</th><th>bytes</th>"
            f"<th>content it can read</th></tr></thead><tbody>{rows}</tbody></table>"
            if rows
            else f"<i>{NOTHING_STORED}</i>"
        )
        if isinstance(self.server, MitmServer):
            secretly = (
                "".join(
                    f"<div>{html.escape(i.sender)} → {html.escape(i.recipient)}: <b>{html.escape(i.text)}</b></div>"
                    for i in self.server.intercepted
                )
                or "<div><i>nothing yet</i></div>"
            )
            self.server_view.value += (
                "<hr><div class='toychat-intercepted' style='line-height:1.4'><b>…and what it secretly "
                f"decrypted with the keys it handed out:</b> {secretly}</div>"
            )
        if self.reporting:
            reported = "".join(
                f"<tr><td {_CELL}>{row.report}</td><td {_NOWRAP}>{_time(row.sent_at)}</td>"
                f"<td {_CELL}>{html.escape(row.reported_sender)}</td><td {_CELL}>{html.escape(row.role)}</td>"
                f"<td {_TEXT_CELL}><b>{html.escape(row.text)}</b></td></tr>"
                for row in self.server.report_log
            )
            self.reports_view.value = (
                f"<table {_TABLE}><thead><tr><th>report</th><th>sent at</th><th>from</th><th>role</th>"
                f"<th>text it can now read</th></tr></thead><tbody>{reported}</tbody></table>"
                if reported
                else "<i>No reports yet: the platform has read no message.</i>"
            )
        self.bob_view.value = _LINES.format(
            "".join(
                f"<div>{_time(m.sent_at)} <b>{html.escape(m.sender)}:</b> {html.escape(m.text)}</div>"
                for m in self.bob.inbox
            )
            or f"<i>{NO_MESSAGES}</i>"
        )

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
