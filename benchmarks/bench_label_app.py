"""Latency of `sklearn-aift label`: last label -> next batch, and key press -> saved.

A folder of generated colonoscopy frames (``--n-images``, default 1,000) is
labeled through the real HTTP server (uvicorn on a loopback port, with the
command's connection handling and token check; one keep-alive connection, as a
browser keeps) with the command's default model: the offline ImageNet
MobileNetV2 at 64 px, 21 patches per image, frozen feature blocks whose
activations are cached. An oracle answers with the frames' known classes.

Two latencies are measured:

* last label -> next batch: from the reply to a batch's last
  ``POST /api/labels`` until ``GET /api/batch`` returns the next round's
  batch, split into fine-tuning and the rest (rescan, ranking); reported for
  every round, so the round that brings the labels to 100 is read directly;
* key press -> saved: the round trip of every ``POST /api/labels`` (the
  page sends it when the key is pressed and marks the card saved when the
  reply comes), median, 95th percentile and maximum.

The first start's full feature pass (every patch through the whole network)
is the baseline the ratios refer to. torch runs on ``--threads`` threads (by default
torch's own choice, as the command's).

    .venv/bin/python benchmarks/bench_label_app.py [--n-images 1000] [--rounds 10]
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch
import uvicorn
from PIL import Image

from sklearn_aift import AIFTNet, FrameProtocol
from sklearn_aift.app import LabelingCampaign, create_app
from sklearn_aift.app._connections import TimedH11Protocol
from sklearn_aift.datasets import make_colonoscopy_frames

TOKEN = "benchmark-token"


def write_frames(folder: Path, n: int) -> dict[str, str]:
    data = make_colonoscopy_frames(n_frames=n, frame_size=128, random_state=0)
    names = data.target_names
    truth = {}
    for i, (frame, y) in enumerate(zip(data.frames, data.target)):
        sub = folder / f"part_{i // 250}"
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(frame).save(sub / f"frame_{i:05d}.png")
        truth[f"part_{i // 250}/frame_{i:05d}.png"] = str(names[y])
    return truth


class Client:
    """One keep-alive HTTP connection to the server, reopened when the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        assert response.status == 200, (response.status, payload[:300])
        return json.loads(payload)


def serve(campaign: LabelingCampaign) -> tuple[uvicorn.Server, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(campaign, token=TOKEN), host="127.0.0.1", port=port,
                            log_level="warning", http=TimedH11Protocol, timeout_keep_alive=5)
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, port


def wait_for_round(client: Client, round_: int, timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = client.request("GET", "/api/batch")
        if batch["round"] == round_ and batch["candidates"]:
            return batch
        time.sleep(0.02)
    raise TimeoutError(f"round {round_} did not come within {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads, as `sklearn-aift label --threads` (default: "
                        "torch's own choice, as the command's)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(f"torch on {torch.get_num_threads()} thread(s)")
    tmp = Path(tempfile.mkdtemp())
    t0 = time.perf_counter()
    truth = write_frames(tmp / "frames", args.n_images)
    print(f"wrote {args.n_images} frames (128 px) in {time.perf_counter() - t0:.1f} s")

    net = AIFTNet("mobilenet_v2", weights="IMAGENET1K_V1", input_size=64, device="cpu",
                  random_state=0, max_epochs=5, max_epochs_incremental=3, batch_size=64)
    start = time.perf_counter()
    campaign = LabelingCampaign(tmp / "frames", tmp / "session", net,
                                classes=["non-informative", "informative"],
                                batch_size=args.batch_size,
                                protocol=FrameProtocol(n_patches=21, patch_size=64))
    server, port = serve(campaign)
    client = Client(port)
    batch = wait_for_round(client, 1)
    first = time.perf_counter() - start
    print(f"first start (scan, full feature pass of {args.n_images} x 21 patches, ranking): "
          f"{first:.2f} s  <- baseline")

    latencies, saves = [], []
    for round_ in range(1, args.rounds + 1):
        for candidate in batch["candidates"]:
            pressed = time.perf_counter()
            client.request("POST", "/api/labels",
                           {"id": candidate["id"], "label": truth[candidate["file"]]})
            saves.append(time.perf_counter() - pressed)
        last_label = time.perf_counter()
        batch = wait_for_round(client, round_ + 1)
        latency = time.perf_counter() - last_label
        info = client.request("GET", "/api/status")["rounds"][-1]
        ranking = latency - info["training_time"]
        latencies.append(latency)
        accuracy = info["batch_accuracy"]
        print(f"round {round_}: {info['n_labels']} labels; last label -> next batch "
              f"{latency:.2f} s (fine-tuning {info['training_time']:.2f} s, rescan + ranking + "
              f"rest {ranking:.2f} s; {latency / first:.3f} x the first start); accuracy on "
              f"the batch before training {accuracy:.2f}")
    saves_ms = 1000 * np.asarray(saves)
    print(f"last label -> next batch at {info['n_labels']} labels: {latencies[-1]:.2f} s "
          f"(target <= 2 s); median over the {len(latencies)} rounds "
          f"{np.median(latencies):.2f} s")
    print(f"key press -> saved (POST /api/labels round trip, {len(saves)} labels): median "
          f"{np.median(saves_ms):.1f} ms, 95th percentile {np.percentile(saves_ms, 95):.1f} "
          f"ms, max {saves_ms.max():.1f} ms (target <= 200 ms)")
    server.should_exit = True
    campaign.close()


if __name__ == "__main__":
    main()
