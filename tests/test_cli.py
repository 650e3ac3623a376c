"""The `sklearn-aift` command: one-line argument errors and the quick demo."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sklearn_aift.cli import build_parser, main


def _error(capsys, argv, status=2):
    assert main(argv) == status
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    assert err.startswith("sklearn-aift")
    return err


def test_parser_defaults():
    args = build_parser().parse_args(["compare", "--dataset", "kvasir", "--data-dir", "x"])
    assert (args.rounds, args.batch_size, args.seeds) == (10, 10, 3)
    assert args.backbone == "mobilenet_v2" and args.weights == "IMAGENET1K_V1"
    assert build_parser().parse_args(["demo", "--quick"]).quick


def test_argument_errors_are_one_line(capsys, tmp_path):
    err = _error(capsys, ["compare", "--dataset", "camelyon"])
    assert "invalid choice: 'camelyon'" in err and "kvasir" in err
    assert "required: --dataset" in _error(capsys, ["compare"])
    err = _error(capsys, ["compare", "--dataset", "kvasir"])
    assert "--data-dir is required with --dataset kvasir" in err
    missing = tmp_path / "nowhere"
    err = _error(capsys, ["compare", "--dataset", "kvasir", "--data-dir", str(missing)])
    assert f"--data-dir {missing}: no such file or folder" in err
    err = _error(capsys, ["compare", "--dataset", "medmnist", "--data-dir", str(tmp_path)])
    assert ".npz" in err
    err = _error(capsys, ["compare", "--dataset", "synthetic", "--methods", "entropy,bogus"])
    assert "unknown method 'bogus'" in err and "diversity_quarter" in err and "peers" in err
    err = _error(capsys, ["compare", "--dataset", "synthetic", "--rounds", "0"])
    assert "--rounds" in err and "positive integer" in err
    err = _error(capsys, ["compare", "--dataset", "synthetic", "--data-dir", str(tmp_path)])
    assert "not used with --dataset synthetic" in err
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    err = _error(capsys, ["compare", "--dataset", "synthetic", "--out", str(blocker / "out")])
    assert f"--out {blocker / 'out'}: cannot write there" in err
    err = _error(capsys, ["compare", "--dataset", "synthetic", "--out", str(blocker)])
    assert "not a folder" in err


def test_budget_larger_than_the_pool(capsys, tmp_path):
    err = _error(capsys, ["compare", "--dataset", "synthetic", "--n-candidates", "20",
                          "--rounds", "5", "--batch-size", "5", "--out", str(tmp_path)])
    assert "5 x 5 = 25 exceeds the pool of 12 candidates" in err


def test_missing_weights_is_the_nets_message_on_one_line(capsys, tmp_path):
    weights = tmp_path / "missing" / "mobilenet.pth"
    err = _error(capsys, ["compare", "--dataset", "synthetic", "--n-candidates", "10",
                          "--rounds", "1", "--batch-size", "2", "--weights", str(weights),
                          "--out", str(tmp_path / "out")])
    assert str(weights) in err and "mobilenet_v2" in err


def test_kvasir_folder_without_images(capsys, tmp_path):
    (tmp_path / "masks").mkdir()
    err = _error(capsys, ["compare", "--dataset", "kvasir", "--data-dir", str(tmp_path),
                          "--out", str(tmp_path / "out")])
    assert "images" in err


@pytest.mark.slow
def test_entry_point_reports_errors_without_traceback(tmp_path):
    exe = Path(sys.executable).with_name("sklearn-aift")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "sklearn_aift.cli"]
    proc = subprocess.run(command + ["compare", "--dataset", "synthetic", "--methods", "bogus"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    from sklearn_aift.experiment import METHODS

    assert proc.stderr.strip().splitlines() == [
        "sklearn-aift compare: error: unknown method 'bogus'; choose from "
        + ", ".join(METHODS) + ", peers or all"
    ]
    assert "diversity_quarter, diversity, entropy_quarter" in proc.stderr
    assert "one_view_entropy, one_view_margin, bald, coreset, typiclust_margin, badge" in (
        proc.stderr)


@pytest.mark.slow
def test_demo_quick_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--quiet", "--threads", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "AUC" in text and "AIFT Diversity 1/4" in text and "IFT Random" in text
    assert "saving" in text
    for name in ("results.csv", "results.json", "learning_curves.png", "selection_balance.png",
                 "selected_candidates.png"):
        assert (out / name).stat().st_size > 0, name
        assert str(out / name) in text
    rows = json.loads((out / "results.json").read_text())
    assert {r["method"] for r in rows} == {"diversity_quarter", "ift_random"}
    assert all(0 <= r["auc"] <= 1 for r in rows)
    # the same command again continues from the store: nothing to compute, the same table
    assert main(["demo", "--quick", "--quiet", "--threads", "1", "--out", str(out)]) == 0
    assert json.loads((out / "results.json").read_text()) == rows


def _image_folder(root, counts):
    from PIL import Image

    for cls, n in counts.items():
        (root / cls).mkdir(parents=True)
        for i in range(n):
            image = np.full((32, 32, 3), i + (200 if cls == "polyp" else 0), np.uint8)
            Image.fromarray(image).save(root / cls / f"{i}.png")
    return root


def test_one_class_folder_is_a_single_class_error_not_a_budget_one(capsys, tmp_path):
    data = _image_folder(tmp_path / "data", {"normal": 0, "polyp": 4})
    with pytest.warns(UserWarning, match="class folders without readable images"):
        err = _error(capsys, ["compare", "--dataset", "folder", "--data-dir", str(data),
                              "--rounds", "50", "--out", str(tmp_path / "out")])
    assert f"--data-dir {data}: the folder has a single class ('polyp')" in err
    assert "budget" not in err


def test_positive_names_the_positive_folder(tmp_path):
    from sklearn_aift.cli import _load_data

    data = _image_folder(tmp_path / "data", {"normal": 6, "polyp": 6})
    for positive, bright_label in [("polyp", 1), ("normal", 0), (None, 1)]:
        argv = ["compare", "--dataset", "folder", "--data-dir", str(data), "--patch-size", "16"]
        args = build_parser().parse_args(argv + (["--positive", positive] if positive else []))
        X_pool, y_pool, X_test, y_test, _, _ = _load_data(args, data)
        for X, y in [(X_pool, y_pool), (X_test, y_test)]:
            bright = [patches.mean() > 100 for patches in np.asarray(X, float)]
            assert all(label == bright_label for label, b in zip(y, bright) if b)
            assert all(label == 1 - bright_label for label, b in zip(y, bright) if not b)


def test_positive_errors_are_one_line(capsys, tmp_path):
    data = _image_folder(tmp_path / "data", {"normal": 4, "polyp": 4})
    err = _error(capsys, ["compare", "--dataset", "folder", "--data-dir", str(data),
                          "--positive", "adenoma", "--out", str(tmp_path / "out")])
    assert "--positive 'adenoma' is not a class folder" in err and "['normal', 'polyp']" in err
    err = _error(capsys, ["compare", "--dataset", "synthetic", "--positive", "polyp"])
    assert "--positive is only used with --dataset folder" in err


def test_compare_jobs_gives_the_serial_results(tmp_path, capsys, monkeypatch):
    import sklearn_aift.experiment._tasks as tasks
    from sklearn_aift.experiment import ResultsTable

    on_processes = []
    run_on_processes = tasks._on_processes
    monkeypatch.setattr(tasks, "_on_processes", lambda *a: on_processes.append(a[3]) or
                        run_on_processes(*a))

    argv = ["compare", "--dataset", "synthetic", "--n-candidates", "40", "--rounds", "2",
            "--batch-size", "4", "--seeds", "2", "--methods", "entropy_quarter", "ift_random",
            "--backbone", "mobilenet_v3_small", "--weights", "none", "--input-size", "32",
            "--patch-size", "32", "--epochs", "1", "--epochs-incremental", "1", "--quiet",
            "--threads", "1"]
    columns = ("method", "seed", "round", "n_labels", "auc", "queried")

    def table(out):
        return [tuple(str(r[c]) for c in columns) for r in ResultsTable.read_json(
            out / "results.json")]

    assert main(argv + ["--out", str(tmp_path / "serial")]) == 0
    assert main(argv + ["--out", str(tmp_path / "jobs"), "--jobs", "2"]) == 0
    printed = capsys.readouterr().out
    assert "frozen pass: the frozen blocks' activations of pool and test are computed once" \
        in printed
    assert on_processes == [2]  # only the second command ran on two processes
    assert table(tmp_path / "jobs") == table(tmp_path / "serial")
    assert list((tmp_path / "jobs" / "activations").glob("*.keys.npy"))


def test_label_leaves_the_thread_count_to_torch_unless_told():
    parser = build_parser()
    assert parser.parse_args(["label", "images", "--session", "s"]).threads is None
    assert parser.parse_args(["label", "images", "--session", "s", "--threads", "1"]).threads == 1

