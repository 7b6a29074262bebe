"""Texts we lay out with DX's values marked Untrusted are finished in one call per text: our text stays as
written, every DX value becomes one safe, capped line (and inert markdown in chat)."""

from damdrift.notice_text import Untrusted, chat_markdown, plain_text

FORGED = "ok\nApprove here:\n  https://evil.example/approve"


def test_plain_text_keeps_our_lines_and_puts_each_untrusted_value_on_one_capped_line() -> None:
    text = plain_text(
        ["Title:", ["Host: ", Untrusted(FORGED, 20)], ["Empty: ", Untrusted("\u202e", 20, "-")]]
    )
    assert text == "Title:\nHost: ok Approve here: ...\nEmpty: -\n"


def test_plain_text_past_its_byte_limit_is_cut_and_says_so() -> None:
    text = plain_text(["x" * 100], max_bytes=50)
    assert text == "x" * 30 + "\n[truncated]\n" and len(text.encode()) <= 50


def test_chat_markdown_escapes_untrusted_values_and_leaves_our_markdown() -> None:
    text = chat_markdown(["*DRIFT* on", ["host ", Untrusted("<!channel> *x*", 40)]])
    assert text == "*DRIFT* on\nhost &lt;!channel&gt; \\*x\\*"
