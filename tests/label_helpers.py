"""Helpers shared by the labeling app's tests: image folders and a server subprocess."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
# a model small enough for a round to take well under a second
TINY_MODEL_ARGS = ["--backbone", "mobilenet_v3_small", "--weights", "none", "--input-size",
                   "32", "--patch-size", "32", "--n-patches", "5"]


def make_image_folder(root: Path, n: int = 12, nested: bool = True, start: int = 0) -> Path:
    """``n`` small PNG images, dark and bright ones, half of them in a nested folder."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(start)
    for i in range(start, start + n):
        folder = root / "sub" / "deeper" if nested and i % 2 else root
        folder.mkdir(parents=True, exist_ok=True)
        base = 40 if i % 3 else 200
        pixels = np.clip(base + rng.normal(0, 20, (40, 48, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"img_{i:03d}.png")
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabelServer:
    """``sklearn-aift label`` in a subprocess (so it can be killed with SIGKILL)."""

    def __init__(self, images: Path, session: Path, *extra: str, batch_size: int = 4,
                 token: str | None = None, log: Path | None = None, wait: bool = True,
                 port: int | None = None) -> None:
        self.port = port or free_port()
        self.token = token
        args = [sys.executable, "-m", "sklearn_aift.cli", "label", str(images), "--session",
                str(session), "--batch-size", str(batch_size), "--port", str(self.port),
                *TINY_MODEL_ARGS, *extra]
        if token:
            args += ["--token", token]
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
        self.log = open(log or session.parent / f"server-{self.port}.log", "ab")
        self.proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        if wait:
            self.wait_until(lambda s: s["phase"] in ("labeling", "done"), timeout=120)

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def json(self, method: str, path: str, body: dict | None = None) -> dict:
        status, data = self.request(method, path, body)
        assert status == 200, (status, data)
        return json.loads(data)

    def status(self) -> dict:
        return self.json("GET", "/api/status")

    def wait_until(self, condition, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}; log: "
                                   f"{Path(self.log.name).read_text()[-3000:]}")
            try:
                last = self.status()
                if condition(last):
                    return last
            except (OSError, AssertionError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"condition not reached in {timeout} s; last status {last}")

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind runs in the server."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.kill()


def tiny_net():
    """A small, untrained network: campaigns in tests fine-tune in a second."""
    from sklearn_aift import AIFTNet

    return AIFTNet("mobilenet_v3_small", weights=None, input_size=32, max_epochs=1,
                   max_epochs_incremental=1, batch_size=8, random_state=0)


def open_campaign(images, session, **kw):
    """A campaign on ``images`` with :func:`tiny_net`, batches of 3, idle when returned."""
    from sklearn_aift import FrameProtocol
    from sklearn_aift.app import LabelingCampaign

    kw.setdefault("batch_size", 3)
    campaign = LabelingCampaign(images, session, tiny_net(),
                                protocol=FrameProtocol(n_patches=5, patch_size=32), **kw)
    assert campaign.wait_idle(120)
    return campaign
