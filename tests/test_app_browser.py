"""The labeling page in a real browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import csv
import io
import os
import shutil
import socket
import sqlite3
from types import SimpleNamespace

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


def wait_saved(page):
    page.wait_for_function("document.querySelector('#saved-at').dataset.waiting == '0'",
                           timeout=30_000)


def label_round_with_keyboard(page, keys):
    for key in keys:
        before = page.locator(".card.labeled").count()
        page.keyboard.press(key)
        page.wait_for_function(f"document.querySelectorAll('.card.labeled').length > {before}")
    wait_saved(page)


def events(session):
    with sqlite3.connect(session / "session.sqlite") as conn:
        return conn.execute("SELECT kind, label, round FROM decisions ORDER BY seq").fetchall()


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
        page.wait_for_function("document.querySelectorAll('.card.labeled').length == 0 && "
                               "document.querySelector('#saved-at').dataset.waiting == '0'")
        assert [k for k, _, _ in events(session)][-2:] == ["label", "undo"]

        with page.expect_download() as download:
            page.click("#export")
        rows = list(csv.DictReader(io.StringIO(open(download.value.path()).read())))
        assert len(rows) == 8 and sorted({r["round"] for r in rows}) == ["1", "2"]
        assert list(rows[0]) == ["file", "label", "round", "time", "check_set"]

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


def labeled_events(session):
    with sqlite3.connect(session / "session.sqlite") as conn:
        return conn.execute("SELECT candidate_key, kind, label FROM decisions "
                            "ORDER BY seq").fetchall()


def batch_ids(page):
    return page.eval_on_selector_all(".card", "cards => cards.map(c => c.dataset.id)")


def test_five_fast_keys_label_five_cards_in_order(tmp_path, browser):
    """Keys pressed before the server answers any of them still label the cards they meant."""
    images = make_image_folder(tmp_path / "images", n=12)
    session = tmp_path / "session"
    server = LabelServer(images, session, batch_size=5)
    try:
        page = browser.new_page()
        page.goto(server.url + "/")
        page.wait_for_function("document.querySelectorAll('.card').length == 5 && "
                               "document.querySelector('#phase').dataset.phase == 'labeling'",
                               timeout=120_000)
        ids = batch_ids(page)
        held, release = [], []

        def hold_until_released(route):
            if release:
                route.continue_()
            else:
                held.append(route)

        page.route("**/api/labels", hold_until_released)
        page.evaluate("window.keyTimes = []; document.addEventListener('keydown', "
                      "() => window.keyTimes.push(performance.now()), true)")
        for key in ["1", "2", "2", "1", "2"]:
            page.keyboard.press(key)
        spread = page.evaluate("keyTimes[keyTimes.length - 1] - keyTimes[0]")
        # every card shows its label at once, although no save was answered yet
        assert page.locator(".card.labeled").count() == 5
        assert page.locator(".card .save.saving").count() == 5
        page.wait_for_function("document.querySelector('#saved-at').dataset.waiting == '5'")
        # the first request is on its way, the others wait for it: one at a time, in order
        page.wait_for_timeout(200)
        assert len(held) == 1
        release.append(True)
        held[0].continue_()
        wait_saved(page)
        stored = labeled_events(session)
        assert stored == [(i, "label", lab) for i, lab in
                          zip(ids, ["negative", "positive", "positive", "negative", "positive"])]
        assert spread < 1000  # five keys in quick succession (typically a few ms)
    finally:
        server.stop()


@pytest.fixture
def round_one(tmp_path, browser):
    """A server on 12 images (batches of BATCH) and a page showing round 1's batch.

    ``images``, ``session``, ``server`` (a test may replace it: the one there at the end
    is stopped), ``page`` and ``ids`` (the batch's candidate ids, in card order).
    """
    images = make_image_folder(tmp_path / "images", n=12)
    session = tmp_path / "session"
    ctx = SimpleNamespace(images=images, session=session,
                          server=LabelServer(images, session, batch_size=BATCH))
    try:
        ctx.page = browser.new_page(viewport={"width": 1200, "height": 800})
        ctx.page.goto(ctx.server.url + "/")
        wait_round_ready(ctx.page, 1)
        ctx.ids = batch_ids(ctx.page)
        yield ctx
    finally:
        ctx.server.stop()


def test_undo_withdraws_the_last_decision_not_the_selected_card(round_one):
    page, session, ids = round_one.page, round_one.session, round_one.ids
    page.keyboard.press("1")            # card 0
    page.keyboard.press("ArrowRight")   # skip over card 1
    page.keyboard.press("2")            # card 2: the last decision
    page.keyboard.press("Home")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")    # the selection is back on card 0
    page.keyboard.press("u")
    page.wait_for_function("document.querySelector('#saved-at').dataset.waiting == '0' && "
                           "document.querySelectorAll('.card.labeled').length == 1")
    assert labeled_events(session) == [(ids[0], "label", "negative"),
                                       (ids[2], "label", "positive"),
                                       (ids[2], "undo", None)]
    # Backspace undoes the decision before that one
    page.keyboard.press("Backspace")
    page.wait_for_function("document.querySelectorAll('.card.labeled').length == 0")
    wait_saved(page)
    assert labeled_events(session)[-1] == (ids[0], "undo", None)
    # the recent-decisions strip reaches a decision and relabels it in the viewer
    page.keyboard.press("1")
    page.wait_for_function("document.querySelectorAll('#recent-list button').length == 1")
    page.click("#recent-list button")
    page.wait_for_selector("#viewer:not([hidden])")
    page.keyboard.press("2")
    wait_saved(page)
    assert labeled_events(session)[-1] == (ids[0], "label", "positive")


def test_server_killed_and_restarted_while_the_page_is_open(round_one):
    page, session, ids = round_one.page, round_one.session, round_one.ids
    page.keyboard.press("1")
    wait_saved(page)
    port = round_one.server.port
    round_one.server.kill()
    # keep the port bound (not listening: the page's requests are refused) so that a server
    # another test starts meanwhile cannot be handed it and answer this page
    hold = socket.socket()
    hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hold.bind(("127.0.0.1", port))
    page.wait_for_selector("#offline:not([hidden])", timeout=10_000)
    page.keyboard.press("2")
    page.keyboard.press("1")
    assert page.locator(".card.labeled").count() == 3
    page.wait_for_selector(".card .save.retrying")
    hold.close()
    round_one.server = LabelServer(round_one.images, session, batch_size=BATCH, port=port)
    page.wait_for_selector("#offline", state="hidden", timeout=30_000)
    wait_saved(page)
    assert labeled_events(session) == [(ids[0], "label", "negative"),
                                       (ids[1], "label", "positive"),
                                       (ids[2], "label", "negative")]
    assert page.locator(".card .save.saved").count() == 3


def test_two_tabs_converge(tmp_path, browser):
    images = make_image_folder(tmp_path / "images", n=12)
    session = tmp_path / "session"
    server = LabelServer(images, session, batch_size=BATCH)
    try:
        first, second = browser.new_page(), browser.new_page()
        for page in (first, second):
            page.goto(server.url + "/")
            wait_round_ready(page, 1)
        first.keyboard.press("2")
        second.wait_for_function(
            "document.querySelector('.card[data-index=\"0\"] .label-state')"
            ".textContent == 'positive'", timeout=10_000)
        second.keyboard.press("ArrowLeft")
        second.keyboard.press("1")  # relabel card 0 in the second tab
        first.wait_for_function(
            "document.querySelector('.card[data-index=\"0\"] .label-state')"
            ".textContent == 'negative'", timeout=10_000)
        assert first.locator('[data-class="negative"]').text_content() == "1"
    finally:
        server.stop()


def test_viewer_zooms_pans_and_windows(round_one):
    page, session = round_one.page, round_one.session
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('#viewer-info').textContent"
                           ".startsWith('48×40 px')")
    canvas = page.locator("#viewer-canvas")
    fitted = float(canvas.get_attribute("data-zoom"))
    assert fitted > 5  # a 48 px image fills the screen
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -300)
    page.wait_for_function(f"Number(document.querySelector('#viewer-canvas')"
                           f".dataset.zoom) > {fitted}")
    page.keyboard.press("o")
    assert float(canvas.get_attribute("data-zoom")) == 1
    before = canvas.get_attribute("data-window")
    page.keyboard.down("Shift")
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 - 100, box["y"] + box["height"] / 2 + 50)
    page.mouse.up()
    page.keyboard.up("Shift")
    center, width = map(float, canvas.get_attribute("data-window").split(","))
    assert (center, width) != tuple(map(float, before.split(",")))
    assert width < 255 and center < 127.5  # narrower and lower: more contrast, brighter
    page.keyboard.press("r")
    assert canvas.get_attribute("data-window") == before
    # label keys work in the viewer: the first card is labeled, the viewer moves on
    page.keyboard.press("2")
    wait_saved(page)
    assert page.locator("#viewer-title").text_content() != ""
    assert labeled_events(session)[0][1:] == ("label", "positive")
    page.keyboard.press("Escape")
    assert page.locator("#viewer").is_hidden()


def test_viewer_windows_a_16_bit_dicom_at_full_depth(tmp_path, browser):
    from pydicom.data import get_testdata_file

    images = make_image_folder(tmp_path / "images", n=3, nested=False)
    shutil.copy(get_testdata_file("CT_small.dcm"), images / "ct.dcm")
    server = LabelServer(images, tmp_path / "session", batch_size=4)
    try:
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        page.goto(server.url + "/")
        page.wait_for_function("document.querySelectorAll('.card').length == 4", timeout=120_000)
        card = page.locator(".card", has=page.locator(".file", has_text="ct.dcm"))
        card.locator(".thumb").click()
        info = page.locator("#viewer-info")
        page.wait_for_function("document.querySelector('#viewer-info').textContent"
                               ".includes('values')")
        # CT values after the rescale intercept, and the range window the network uses
        assert info.text_content().startswith("128×128 px")
        assert "values -896 to 1167" in info.text_content()
        canvas = page.locator("#viewer-canvas")
        assert canvas.get_attribute("data-window") == "135.5,2063"
        box = canvas.bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(cx, cy)
        page.mouse.wheel(0, -400)  # wheel events are not awaited: wait for the redraw
        page.wait_for_function("Number(document.querySelector('#viewer-canvas')"
                               ".dataset.zoom) > 4")
        # a right-drag narrows the window to a soft-tissue range of the 16-bit values
        page.mouse.down(button="right")
        page.mouse.move(cx - 300, cy + 60)
        page.mouse.up(button="right")
        center, width = map(float, canvas.get_attribute("data-window").split(","))
        assert width < 300 and center < 135.5
        # the windowed image really changed: the centre pixel is drawn brighter or darker
        page.keyboard.press("r")
        assert canvas.get_attribute("data-window") == "135.5,2063"
    finally:
        server.stop()


def test_a_card_whose_image_is_deleted_is_replaced_on_the_open_page(tmp_path, browser):
    images = make_image_folder(tmp_path / "images", n=12)
    session = tmp_path / "session"
    server = LabelServer(images, session, batch_size=BATCH)
    try:
        page = browser.new_page()
        page.goto(server.url + "/")
        wait_round_ready(page, 1)
        before = batch_ids(page)
        batch = server.json("GET", "/api/batch")["candidates"]
        gone = next(c for c in batch if c["id"] == before[1])
        (images / gone["file"]).unlink()
        page.wait_for_function(
            f"(() => {{ const ids = [...document.querySelectorAll('.card')]"
            f".map(c => c.dataset.id); return ids.length == {BATCH} && "
            f"!ids.includes('{gone['id']}'); }})()", timeout=60_000)
        after = batch_ids(page)
        assert set(before) - {gone["id"]} < set(after)
        label_round_with_keyboard(page, ["1", "2"] * (BATCH // 2))
        assert server.wait_until(lambda s: s["completed_rounds"] == 1, timeout=120)
    finally:
        server.stop()


def test_the_check_set_is_announced_labeled_first_and_measured(tmp_path, browser):
    images = make_image_folder(tmp_path / "images", n=14)
    session = tmp_path / "session"
    server = LabelServer(images, session, "--check-set", str(BATCH), batch_size=BATCH)
    try:
        page = browser.new_page()
        page.goto(server.url + "/")
        wait_round_ready(page, 1)
        banner = page.locator("#check-banner")
        assert banner.is_visible()
        assert "labeled once, never trained on" in banner.inner_text()
        assert page.locator(".card .why").first.inner_text() == (
            "check set: labeled once, never trained on")
        label_round_with_keyboard(page, ["1", "2", "1", "2"])
        wait_round_ready(page, 2)
        assert not banner.is_visible()
        label_round_with_keyboard(page, ["1", "2", "1", "2"])
        wait_round_ready(page, 3)
        rows = page.locator("#rounds tbody tr")
        page.wait_for_function("document.querySelectorAll('#rounds tbody tr').length == 2")
        aucs = [r["check"]["auc"] for r in server.status()["rounds"]]
        for i, auc in enumerate(aucs):
            cells = rows.nth(i).locator("td").all_inner_texts()
            assert cells[4] == f"{auc:.3f}", cells
        assert rows.nth(0).locator("td").first.inner_text() == "1 (check set)"
        assert page.locator("#rounds th.check").first.is_visible()
        assert page.locator("#chart .curve-check-point").count() == 2
    finally:
        server.stop()
