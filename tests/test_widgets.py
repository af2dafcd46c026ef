"""The chat widget's model and views, driven from code (the browser test drives the real UI)."""

from __future__ import annotations

import pytest

from toychat import ToyChatError
from toychat.widgets import ChatWidget


def test_e2ee_views() -> None:
    chat = ChatWidget()
    chat.send("see you at <8>")
    assert "see you at &lt;8&gt;" in chat.alice_view.value
    assert "see you at &lt;8&gt;" in chat.bob_view.value
    assert "ciphertext" in chat.server_view.value
    assert "see you" not in chat.server_view.value
    assert chat.status.value == ""


def test_toggle_starts_a_plaintext_conversation_the_server_can_read() -> None:
    chat = ChatWidget()
    chat.send("first")
    chat.mode_toggle.value = "plaintext"
    assert chat.server.mode == "plaintext"
    assert chat.bob.inbox == []
    chat.send("readable")
    assert "readable" in chat.server_view.value
    assert "ciphertext" not in chat.server_view.value
    assert "readable" in chat.bob_view.value


def test_same_keys_every_run_and_button_uses_the_text_box() -> None:
    one, two = ChatWidget(), ChatWidget()
    assert one.alice.public == two.alice.public
    one.message.value = "typed"
    one.send_button.click()
    assert "typed" in one.bob_view.value
    assert one.message.value == ""
    one.send_button.click()  # empty box: nothing sent
    assert len(one.server.log) == 1


def test_refusals_are_shown_not_swallowed() -> None:
    chat = ChatWidget()
    chat.server.inject("bob", b"not an envelope")
    chat.send("hello")
    assert "refused" in chat.status.value
    assert "malformed" in chat.status.value
    assert "hello" in chat.bob_view.value
    chat.send("x" * (2 << 20))
    assert "Refused" in chat.status.value


def test_mitm_mode_chat_works_and_the_server_reads_it() -> None:
    chat = ChatWidget(mode="mitm")
    chat.send("our secret plan")
    assert "our secret plan" in chat.bob_view.value
    stored, _, secretly = chat.server_view.value.partition("<hr>")
    assert "ciphertext" in stored
    assert "our secret plan" not in stored
    assert "our secret plan" in secretly
    assert chat.alice.safety_number("bob") != chat.bob.safety_number("alice")


def test_toggle_can_offer_fewer_modes() -> None:
    chat = ChatWidget(modes=("e2ee", "plaintext"))
    assert [value for _, value in chat.mode_toggle.options] == ["e2ee", "plaintext"]


def test_safety_number_widget_detects_the_substitution() -> None:
    from toychat import Client, Server
    from toychat.mitm import MitmServer
    from toychat.widgets import SafetyNumberWidget

    honest = Server()
    widget = SafetyNumberWidget(Client("alice", honest), Client("bob", honest))
    assert widget.compare() is True
    assert "match" in widget.result.value
    liar = MitmServer()
    alice, bob = Client("alice", liar), Client("bob", liar)
    liar.intercept("alice", "bob")
    widget = SafetyNumberWidget(alice, bob)
    widget.compare_button.click()
    assert "differ" in widget.result.value
    assert widget.first_view.value != widget.second_view.value


# ---- lesson 08: the report button ---------------------------------------------------------
def test_reporting_is_off_by_default_and_changes_nothing() -> None:
    chat = ChatWidget()
    assert chat.server.franking is None
    chat.send("hello")
    assert "franking" not in chat.alice.sent[-1].extras
    shown = [child for column in chat.widget.children[1].children for child in column.children]
    assert chat.report_button not in shown
    assert chat.reports_view not in shown
    with pytest.raises(ToyChatError, match="reporting=True"):
        chat.report()


def test_report_button_sends_only_the_last_message_and_the_server_shows_it() -> None:
    chat = ChatWidget(reporting=True)
    assert "toychat-report" in chat.report_button._dom_classes
    assert "toychat-reports-view" in chat.reports_view._dom_classes
    assert "No reports yet" in chat.reports_view.value
    for text in ("hi", "how are you", "[synthetic placeholder: abusive message]"):
        chat.send(text)
    assert "placeholder" not in chat.server_view.value  # E2EE: the server stores ciphertext
    chat.report_button.click()  # the dropdown starts on "only that message"
    assert "Report verified" in chat.status.value
    assert "placeholder" in chat.reports_view.value
    assert "how are you" not in chat.reports_view.value
    assert list(chat.server.report_table()["role"]) == ["reported message"]


def test_report_with_context_reveals_the_last_five_and_replays_are_refused() -> None:
    chat = ChatWidget(reporting=True)
    for i in range(7):
        chat.send(f"message {i}")
    chat.report_scope.value = 5
    chat.report_button.click()
    table = chat.server.report_table()
    assert list(table["text"]) == [f"message {i}" for i in range(1, 7)]
    assert "message 0" not in chat.reports_view.value
    assert "message 1" in chat.reports_view.value
    chat.report(context=0)
    assert "Report refused" in chat.status.value
    assert "already been reported" in chat.status.value
    assert len(chat.server.report_table()) == 6


def test_reporting_widget_explains_what_cannot_be_reported() -> None:
    chat = ChatWidget(reporting=True)
    chat.report()
    assert "Nothing to report" in chat.status.value
    chat.mode_toggle.value = "plaintext"
    assert chat.server.franking is None
    chat.send("readable anyway")
    chat.report()
    assert "Report refused" in chat.status.value
    assert "franking" in chat.status.value
    chat.mode_toggle.value = "e2ee"
    assert chat.server.franking is not None
    assert "No reports yet" in chat.reports_view.value


def test_reporting_chat_offers_only_the_platforms_reporting_is_about() -> None:
    chat = ChatWidget(reporting=True)
    assert [value for _, value in chat.mode_toggle.options] == ["e2ee", "plaintext"]
    assert [value for _, value in ChatWidget().mode_toggle.options] == ["e2ee", "plaintext", "mitm"]
    assert [value for _, value in ChatWidget(reporting=True, modes=("e2ee",)).mode_toggle.options] == ["e2ee"]


def test_server_rows_stay_one_line_high() -> None:
    chat = ChatWidget()
    chat.send("hello")
    stored = chat.server.log[-1].content_seen  # "ciphertext <24 hex digits>… (N bytes)"
    shown = stored.split()[1][:8]
    assert f"<code>ciphertext {shown}…</code>" in chat.server_view.value
    assert stored.split()[1].rstrip("…") not in chat.server_view.value  # the full hex is not shown
    assert "white-space:nowrap" in chat.server_view.value
    assert "break-all" not in chat.server_view.value


def test_mitm_view_separates_label_and_text() -> None:
    chat = ChatWidget(mode="mitm")
    assert "handed out:</b> <div><i>nothing yet</i>" in chat.server_view.value


def test_enter_in_the_message_box_sends() -> None:
    chat = ChatWidget()
    chat.message.value = "sent with Enter"
    # What the browser's text box sends when the reader presses Enter.
    chat.message._handle_custom_msg({"event": "submit"}, [])
    assert "sent with Enter" in chat.bob_view.value
    assert chat.message.value == ""
    assert len(chat.server.log) == 1


def test_a_long_unbroken_message_wraps_inside_each_column() -> None:
    url = "https://example.org/" + "a" * 300
    chat = ChatWidget(mode="plaintext")
    chat.send(url)
    for view in (chat.alice_view, chat.bob_view):
        line = view.value[: view.value.index(url)]
        assert "overflow-wrap:anywhere" in line, "a URL breaks inside the phone, not at its edge"
    cell = chat.server_view.value[: chat.server_view.value.index(url)].rsplit("<td", 1)[1]
    assert "overflow-wrap:anywhere" in cell, "the server's readable copy wraps too"


def test_report_menu_box_grows_to_hold_its_label_and_menu() -> None:
    """ipywidgets draws a drop-down as a one-line box of fixed height; a layout that puts the label
    above the menu must let the box grow, or the menu is squashed to a line under the button."""
    chat = ChatWidget(reporting=True)
    layout = chat.report_scope.layout
    stacked = layout.display == "grid" or "column" in (layout.flex_flow or "") or "wrap" in (layout.flex_flow or "")
    assert stacked, "the label sits above the menu, where Bob's narrow column has room for both"
    assert layout.height == "auto", "the box grows to hold the label and the menu"
