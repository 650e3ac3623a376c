"""Screenshots of the labeling page for docs/howto/label.rst.

Writes synthetic colonoscopy frames to a temporary folder, starts
``sklearn-aift label`` on it with the command's default model (the offline
ImageNet MobileNetV2 here), labels with the keyboard in headless Chromium
(Debian's package, driven by Playwright) and saves PNGs under
``docs/_static/label/``. Run from the repository root::

    .venv/bin/python docs/_scripts/label_screenshots.py
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from sklearn_aift.datasets import make_colonoscopy_frames

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "docs" / "_static" / "label"
TOKEN = "docs-screenshot-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status(url: str) -> dict:
    req = urllib.request.Request(url + "/api/status",
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def wait_phase(url: str, phases: tuple, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            s = status(url)
            if s["phase"] in phases:
                return s
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"phase {phases} not reached")


def dicom_screenshot(browser, tmp: Path) -> None:
    """The viewer on a 16-bit CT slice (pydicom's own test file), windowed by a right-drag."""
    from pydicom.data import get_testdata_file

    images = tmp / "dicom"
    images.mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), images / "ct_slice.dcm")
    shutil.copy(get_testdata_file("MR_small.dcm"), images / "mr_slice.dcm")
    frames = make_colonoscopy_frames(n_frames=2, frame_size=128, random_state=1).frames
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(images / f"frame_{i}.png")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "sklearn_aift.cli", "label", str(images), "--session",
           str(tmp / "dicom-session"), "--batch-size", "4", "--port", str(port),
           "--token", TOKEN]
    server = subprocess.Popen(cmd, cwd=REPO, env=dict(os.environ, OMP_NUM_THREADS="1"))
    try:
        wait_phase(url, ("labeling",))
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}/?token={TOKEN}")
        page.wait_for_function("document.querySelectorAll('.card').length == 4")
        page.locator(".card", has=page.locator(".file", has_text="ct_slice.dcm")).locator(
            ".thumb").click()
        page.wait_for_function("document.querySelector('#viewer-info').textContent"
                               ".includes('values')")
        box = page.locator("#viewer-canvas").bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(cx, cy)
        page.mouse.down(button="right")  # about C 40 / W 400 HU: a soft-tissue window
        page.mouse.move(cx - 250, cy + 14)
        page.mouse.up(button="right")
        page.wait_for_timeout(200)
        page.screenshot(path=str(OUT / "viewer_dicom.png"))
        page.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp())
    images = tmp / "frames"
    images.mkdir()
    frames = make_colonoscopy_frames(n_frames=80, frame_size=128, random_state=0).frames
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(images / f"frame_{i:04d}.png")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "sklearn_aift.cli", "label", str(images), "--session",
           str(tmp / "session"), "--classes", "non-informative,informative",
           "--batch-size", "8", "--port", str(port), "--token", TOKEN]
    server = subprocess.Popen(cmd, cwd=REPO, env=dict(os.environ, OMP_NUM_THREADS="1"))
    try:
        wait_phase(url, ("labeling",))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{url}/?token={TOKEN}")
            page.wait_for_selector(".card")
            page.wait_for_timeout(500)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(OUT / "batch.png"))
            for key in ["2", "1", "1", "2", "1"]:
                page.keyboard.press(key)
                page.wait_for_timeout(150)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(OUT / "labeling.png"))
            # the viewer on the selected image: zoomed in, contrast raised by a shift-drag
            page.keyboard.press("Enter")
            page.wait_for_function("document.querySelector('#viewer-info').textContent"
                                   ".includes(' px')")
            box = page.locator("#viewer-canvas").bounding_box()
            cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.mouse.move(cx, cy)
            page.mouse.wheel(0, -250)
            page.keyboard.down("Shift")
            page.mouse.down()
            page.mouse.move(cx - 60, cy - 10)
            page.mouse.up()
            page.keyboard.up("Shift")
            page.wait_for_timeout(200)
            page.screenshot(path=str(OUT / "viewer.png"))
            page.keyboard.press("Escape")
            for key in ["1", "2"]:
                page.keyboard.press(key)
                page.wait_for_timeout(100)
            page.keyboard.press("1")  # the batch's last label: fine-tuning starts
            # the page polls every 0.7 s and a round can be shorter: refresh it as soon
            # as the server reports the fine-tuning
            deadline = time.monotonic() + 30
            while status(url)["phase"] != "fine-tuning" and time.monotonic() < deadline:
                time.sleep(0.01)
            page.evaluate("poll()")
            try:
                page.wait_for_function("document.querySelector('#phase').dataset.phase == "
                                       "'fine-tuning'", timeout=2_000)
                page.screenshot(path=str(OUT / "fine_tuning.png"), clip={
                    "x": 0, "y": 0, "width": 1280, "height": 260})
            except PlaywrightTimeout:
                print("the fine-tuning was over before the page showed it; "
                      "fine_tuning.png kept as it was")
            wait_phase(url, ("labeling",))
            page.wait_for_function("document.querySelector('#round').textContent == '2' && "
                                   "document.querySelectorAll('.card').length == 8")
            page.wait_for_timeout(500)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(OUT / "round_2.png"))
            dicom_screenshot(browser, tmp)
            browser.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    for path in OUT.glob("*.png"):  # 256 colours: a third of the size, same look
        Image.open(path).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(
            path, optimize=True)
    print("screenshots in", OUT)


if __name__ == "__main__":
    main()
