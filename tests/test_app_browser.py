"""The labeling page in a real browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import csv
import io
import os
import shutil
import sqlite3

import pytest
from label_helpers import LabelServer, make_image_folder

# playwright is in the dev extra and chromium is installed by `make chromium` (which
# `make test` runs): these tests run in CI and fail, never skip, when either is missing
from playwright import sync_api as playwright_api

# a browser and a server process per test: the fast loop (`pytest -m "not slow"`) leaves them out
pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
BATCH = 4


@pytest.fixture
def browser():
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"the browser tests need Chromium, which is not at {CHROMIUM!r}: install "
                    "Debian's package with `make chromium` (runs `apt-get install chromium` "
                    "as root or through sudo), or set CHROMIUM=/path/to/chromium")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


def wait_round_ready(page, round_):
    page.wait_for_function(
        f"document.querySelector('#round') && document.querySelector('#round').textContent == "
        f"'{round_}' && document.querySelector('#phase').dataset.phase == 'labeling' && "
        f"document.querySelectorAll('.card').length == {BATCH}",
        timeout=120_000,
    )


def label_round_with_keyboard(page, keys):
    for key in keys:
        before = page.locator(".card.labeled").count()
        page.keyboard.press(key)
        page.wait_for_function(f"document.querySelectorAll('.card.labeled').length > {before}")


def events(session):
    with sqlite3.connect(session / "campaign.sqlite") as conn:
        return conn.execute("SELECT kind, label, round FROM events ORDER BY seq").fetchall()


def test_two_rounds_by_keyboard_undo_export_and_resume_after_sigkill(tmp_path, browser):
    images = make_image_folder(tmp_path / "images", n=14)
    session = tmp_path / "session"
    token = "browser-test-token"
    server = LabelServer(images, session, batch_size=BATCH, token=token)
    try:
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        page.goto(f"{server.url}/?token={token}")
        wait_round_ready(page, 1)
        # round 1: digits label the selected image and move on; an arrow moves back
        label_round_with_keyboard(page, ["1", "2", "1"])
        page.keyboard.press("ArrowRight")  # already on the last image: stays there
        label_round_with_keyboard(page, ["2"])
        wait_round_ready(page, 2)
        assert page.locator("#rounds tbody tr").count() == 1
        label_round_with_keyboard(page, ["2", "2", "1", "1"])
        wait_round_ready(page, 3)
        assert page.locator("#rounds tbody tr").count() == 2

        stored = events(session)
        assert [k for k, _, _ in stored] == ["label"] * 8
        assert [r for _, _, r in stored] == [1] * 4 + [2] * 4
        assert [lab for _, lab, _ in stored] == ["negative", "positive", "negative",
                                                 "positive", "positive", "positive",
                                                 "negative", "negative"]
        assert page.locator('[data-class="negative"]').text_content() == "4"
        assert page.locator('[data-class="positive"]').text_content() == "4"

        # round 3: label one, go back to it, undo it
        label_round_with_keyboard(page, ["1"])
        page.keyboard.press("ArrowLeft")
        page.keyboard.press("u")
        page.wait_for_function("document.querySelectorAll('.card.labeled').length == 0")
        assert [k for k, _, _ in events(session)][-2:] == ["label", "undo"]

        with page.expect_download() as download:
            page.click("#export")
        rows = list(csv.DictReader(io.StringIO(open(download.value.path()).read())))
        assert len(rows) == 8 and sorted({r["round"] for r in rows}) == ["1", "2"]
        assert list(rows[0]) == ["file", "label", "round", "time"]

        server.kill()
        server = LabelServer(images, session, batch_size=BATCH, token=token)
        page.goto(f"{server.url}/?token={token}")
        wait_round_ready(page, 3)
        assert page.locator('[data-class="negative"]').text_content() == "4"
        assert page.locator('[data-class="positive"]').text_content() == "4"
        assert page.locator("#rounds tbody tr").count() == 2
        assert page.locator(".card.labeled").count() == 0
        label_round_with_keyboard(page, ["2"])
        assert events(session)[-1] == ("label", "positive", 3)
        context.close()
    finally:
        server.stop()


def test_page_without_token_is_refused(tmp_path, browser):
    images = make_image_folder(tmp_path / "images", n=6)
    server = LabelServer(images, tmp_path / "session", batch_size=BATCH, token="tok-12345678")
    try:
        page = browser.new_page()
        response = page.goto(server.url + "/")
        assert response.status == 401
        assert "token" in page.content()
    finally:
        server.stop()


def test_file_names_are_shown_as_text_never_as_markup(tmp_path, browser):
    images = make_image_folder(tmp_path / "images", n=3, nested=False)
    hostile = "x<img src=nope onerror=window.pwned=1>.png"
    (images / "img_000.png").rename(images / hostile)
    server = LabelServer(images, tmp_path / "session", batch_size=3)
    try:
        page = browser.new_page()
        page.goto(server.url + "/")
        page.wait_for_function("document.querySelectorAll('.card').length == 3",
                               timeout=120_000)
        page.wait_for_timeout(300)
        assert page.evaluate("window.pwned") is None
        assert hostile in page.locator(".file").all_text_contents()
    finally:
        server.stop()
