"""Latency of `sklearn-aift label`: from a batch's last label to the next batch.

A folder of generated colonoscopy frames (``--n-images``, default 1,000) is
labeled through the web API (FastAPI's in-process client, so HTTP parsing and
the token check are included, the network is not) with the command's default
model: the offline ImageNet MobileNetV2 at 64 px, 21 patches per image, frozen
feature blocks whose activations are cached. An oracle answers with the
frames' known classes. For every round the script measures the time from the
reply to the batch's last ``POST /api/labels`` until ``GET /api/batch`` returns
the next round's batch, split into fine-tuning and ranking. The first start's
full feature pass (every patch through the whole network) is the baseline the
ratios refer to. torch runs on one thread (see DESIGN.md).

    .venv/bin/python benchmarks/bench_label_app.py [--n-images 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from fastapi.testclient import TestClient
from PIL import Image

from sklearn_aift import AIFTNet, FrameProtocol
from sklearn_aift.app import LabelingCampaign, create_app
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


def wait_for_round(client: TestClient, headers: dict, round_: int, timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = client.get("/api/batch", headers=headers).json()
        if batch["round"] == round_ and batch["candidates"]:
            return batch
        time.sleep(0.02)
    raise TimeoutError(f"round {round_} did not come within {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
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
    client = TestClient(create_app(campaign, token=TOKEN))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    batch = wait_for_round(client, headers, 1)
    first = time.perf_counter() - start
    print(f"first start (scan, full feature pass of {args.n_images} x 21 patches, ranking): "
          f"{first:.2f} s  <- baseline")

    latencies = []
    for round_ in range(1, args.rounds + 1):
        for candidate in batch["candidates"]:
            r = client.post("/api/labels", headers=headers,
                            json={"id": candidate["id"], "label": truth[candidate["file"]]})
            assert r.status_code == 200, r.text
        last_label = time.perf_counter()
        batch = wait_for_round(client, headers, round_ + 1)
        latency = time.perf_counter() - last_label
        info = client.get("/api/status", headers=headers).json()["rounds"][-1]
        ranking = latency - info["training_time"]
        latencies.append(latency)
        accuracy = info["batch_accuracy"]
        print(f"round {round_}: last label -> next batch {latency:.2f} s "
              f"(fine-tuning on {info['n_labels']} labels {info['training_time']:.2f} s, "
              f"rescan + ranking + rest {ranking:.2f} s; {latency / first:.3f} x the first "
              f"start); accuracy on the batch before training {accuracy:.2f}")
    print(f"median last label -> next batch: {np.median(latencies):.2f} s over "
          f"{len(latencies)} rounds (target <= 5 s)")
    campaign.close()


if __name__ == "__main__":
    main()
