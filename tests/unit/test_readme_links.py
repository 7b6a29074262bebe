"""The README is the front door: every page it links to exists, and it stays a two-minute read.

The docs site itself is checked by ``make docs`` (MkDocs ``--strict``: a broken link or anchor between
pages fails the build); the README lives outside the site, so its links are checked here.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_every_file_the_readme_links_to_exists() -> None:
    targets = [t for t in LINK.findall(README) if "://" not in t]
    assert targets, "the README links to no docs page"
    missing = [t for t in targets if not (ROOT / t).is_file()]
    assert not missing, f"README links to files that do not exist: {missing}"


def test_the_readme_links_every_page_of_the_docs_site() -> None:
    nav = re.findall(r":\s*([\w-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), re.M)
    unlinked = [page for page in nav if page != "index.md" and f"docs/{page}" not in README]
    assert not unlinked, f"pages of the docs site the README does not lead to: {unlinked}"


def test_the_readme_stays_a_two_minute_read() -> None:
    assert len(README.splitlines()) <= 120, "move detail into a docs/ page; the README is the front door"
