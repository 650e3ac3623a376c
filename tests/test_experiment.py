"""The comparison runner, its results table, the annotation saving and resuming."""

import json
import math

import numpy as np
import pytest

from sklearn_aift.experiment import (
    ResultsTable,
    annotation_saving,
    format_metric_table,
    format_saving_table,
)
from sklearn_aift.experiment._store import _ResultStore


def _curves(curves, step=10):
    """ResultsTable from {method: [[auc per round] per seed]}."""
    rows = []
    for method, per_seed in curves.items():
        for seed, aucs in enumerate(per_seed):
            for r, auc in enumerate(aucs, start=1):
                rows.append(
                    {"method": method, "seed": seed, "round": r, "n_labels": step * r, "auc": auc}
                )
    return ResultsTable(rows)


# ---------------------------------------------------------------------------
# ResultsTable
# ---------------------------------------------------------------------------


def test_table_sorted_typed_and_round_trips(tmp_path):
    rows = [
        {"method": "ift_random", "seed": "1", "round": 2, "n_labels": 20, "auc": 0.8,
         "queried": [5, 3], "accuracy": None},
        {"method": "diversity_quarter", "seed": 0, "round": 1, "n_labels": 10, "auc": 0.9},
        {"method": "ift_random", "seed": 1, "round": 1, "n_labels": 10, "auc": float("nan")},
    ]
    table = ResultsTable(rows)
    assert [(r["method"], r["round"]) for r in table] == [
        ("diversity_quarter", 1), ("ift_random", 1), ("ift_random", 2)]
    assert table.methods == ["diversity_quarter", "ift_random"]
    assert table.seeds == [0, 1] and table.n_rounds == 2
    assert table["seed"].dtype == np.int64
    assert np.isnan(table["accuracy"]).sum() == 3
    csv_table = ResultsTable.read_csv(table.to_csv(tmp_path / "r.csv"))
    json_table = ResultsTable.read_json(table.to_json(tmp_path / "r.json"))
    for other in (csv_table, json_table):
        np.testing.assert_array_equal(other["auc"], table["auc"])  # NaN survives
        assert list(other["method"]) == list(table["method"])
    assert "queried" not in (tmp_path / "r.csv").read_text()
    assert json_table.rows[2]["queried"] == [5, 3]
    # the JSON is standard (no NaN literal)
    assert "NaN" not in (tmp_path / "r.json").read_text()
    json.loads((tmp_path / "r.json").read_text())
    assert len(table.select(method="ift_random", seed=[1])) == 2
    with pytest.raises(KeyError, match="no column"):
        table["nope"]
    with pytest.raises(ValueError, match="round"):
        ResultsTable([{"method": "x", "seed": 0}])


def test_curve_rejects_inconsistent_budgets():
    table = ResultsTable([
        {"method": "entropy", "seed": 0, "round": 1, "n_labels": 10},
        {"method": "entropy", "seed": 1, "round": 1, "n_labels": 12},
    ])
    with pytest.raises(ValueError, match="different numbers of labels"):
        table.curve("entropy")
    with pytest.raises(ValueError, match="not in the results"):
        table.curve("diversity")


# ---------------------------------------------------------------------------
# annotation_saving on hand-made curves
# ---------------------------------------------------------------------------


def test_saving_default_target_is_reference_at_full_budget():
    results = _curves(
        {
            "ift_random": [[0.60, 0.70, 0.75, 0.80], [0.62, 0.68, 0.77, 0.84]],  # mean end 0.82
            "diversity_quarter": [[0.70, 0.83, 0.85, 0.86], [0.72, 0.80, 0.84, 0.90]],
            "scratch": [[0.5, 0.55, 0.6, 0.65], [0.5, 0.56, 0.61, 0.66]],
        }
    )
    out = {d["method"]: d for d in annotation_saving(results)}
    assert out["ift_random"]["target"] == pytest.approx(0.82)
    assert out["ift_random"]["labels_needed"] == 40  # mean curve reaches it only at the end
    dq = out["diversity_quarter"]
    # mean curve 0.71, 0.815, 0.845: first >= 0.82 at round 3
    assert dq["labels_needed"] == 30
    assert dq["saving"] == pytest.approx(1 - 30 / 40)
    # per seed: seed 0 reaches 0.82 at round 2, seed 1 at round 3
    assert dq["labels_per_seed"] == [20, 30]
    assert dq["labels_mean"] == 25 and dq["labels_std"] == 5
    # the saving is against the full budget (40 labels), per seed too
    assert dq["full_budget"] == 40 and out["ift_random"]["saving"] == 0
    assert dq["saving_per_seed"] == pytest.approx([1 - 20 / 40, 1 - 30 / 40])
    sc = out["scratch"]
    assert math.isnan(sc["labels_needed"]) and sc["n_seeds_reached"] == 0
    assert math.isnan(sc["saving"])
    text = format_saving_table(annotation_saving(results))
    assert "not reached" in text and "25%" in text and "AIFT Diversity 1/4" in text


def test_saving_explicit_and_full_data_targets():
    results = _curves(
        {
            "ift_random": [[0.6, 0.7, 0.8, 0.9]],
            "entropy": [[0.8, 0.9, 0.9, 0.9]],
        }
    )
    out = {d["method"]: d for d in annotation_saving(results, target=0.7)}
    assert out["ift_random"]["labels_needed"] == 20
    assert out["entropy"]["labels_needed"] == 10
    assert out["entropy"]["saving"] == pytest.approx(1 - 10 / 40)
    rows = [dict(r, full_data_auc=0.95) for r in results]
    out = {d["method"]: d for d in annotation_saving(ResultsTable(rows), full_data_fraction=0.9)}
    assert out["entropy"]["target"] == pytest.approx(0.855)
    assert out["entropy"]["labels_needed"] == 20 and out["ift_random"]["labels_needed"] == 40
    with pytest.raises(ValueError, match="full_data_auc"):
        annotation_saving(results, full_data_fraction=0.9)
    with pytest.raises(ValueError, match="full_data_fraction"):
        annotation_saving(ResultsTable(rows), full_data_fraction=1.5)
    with pytest.raises(ValueError, match="reference='scratch'"):
        annotation_saving(results, reference="scratch")


def test_metric_table_mean_and_std():
    results = _curves({"ift_random": [[0.6, 0.8], [0.7, 0.9]], "entropy": [[0.9]]})
    text = format_metric_table(results, budgets=[10, 20])
    lines = text.splitlines()
    assert lines[0].split() == ["method", "10", "labels", "20", "labels"]
    assert "0.650 ± 0.050" in lines[2] and "0.850 ± 0.050" in lines[2]
    assert lines[1].startswith("AIFT Entropy") and lines[1].rstrip().endswith("-")
    md = format_metric_table(results, markdown=True)
    assert md.splitlines()[1].startswith("|---")


# ---------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------


def test_store_drops_a_partly_written_last_line_and_checks_its_key(tmp_path):
    path = tmp_path / "s.jsonl"
    store = _ResultStore(path, "k1", {"a": 1})
    assert store.load() == []
    store.append({"type": "round", "method": "entropy", "seed": 0, "round": 1, "auc": float("nan")})
    with open(path, "a") as fh:
        fh.write('{"type": "round", "meth')  # killed mid-write
    records = store.load()
    assert len(records) == 1 and records[0]["auc"] is None
    store.append({"type": "done", "method": "entropy", "seed": 0, "n_rounds": 1})
    assert [r["type"] for r in store.load()] == ["round", "done"]
    with pytest.raises(ValueError, match="another configuration"):
        _ResultStore(path, "k2", {}).load()
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "garbage", lines[1]]) + "\n")
    with pytest.raises(ValueError, match="corrupt at line 2"):
        store.load()


# ---------------------------------------------------------------------------
# The runner, end to end with the real AIFTNet
# ---------------------------------------------------------------------------

SCALARS = ("method", "seed", "round", "n_labels", "n_positive", "n_negative", "auc", "accuracy")


@pytest.fixture(scope="module")
def frames():
    from sklearn_aift.datasets import make_colonoscopy_frames

    small = dict(n_patches=5, frame_size=64, patch_size=32, positive_fraction=0.5)
    pool = make_colonoscopy_frames(n_frames=24, random_state=0, **small)
    test = make_colonoscopy_frames(n_frames=16, random_state=1, **small)
    return pool.data, pool.target, test.data, test.target


def _net(**kw):
    from sklearn_aift import AIFTNet

    params = dict(weights=None, input_size=32, freeze=10, max_epochs=2,
                  max_epochs_incremental=1, batch_size=32)
    params.update(kw)
    return AIFTNet("mobilenet_v3_small", **params)


def _comparable(table):
    return [tuple(r[c] for c in SCALARS) + (tuple(r["queried"]),) for r in table]


@pytest.mark.slow
def test_runner_end_to_end(frames, tmp_path):
    from sklearn_aift.experiment import run_comparison

    X_pool, y_pool, X_test, y_test = frames
    seen = []
    results = run_comparison(
        _net(), X_pool, y_pool, X_test, y_test, methods=["diversity_quarter", "ift_random"],
        n_rounds=2, batch_size=4, seeds=[3], full_data=True, patch_proba_rounds=[2],
        out_dir=tmp_path, callback=seen.append, verbose=0,
    )
    assert len(results) == 6 and len(seen) == 6
    assert results.methods == ["diversity_quarter", "ift_random"] and results.seeds == [3]
    assert results["n_labels"].tolist() == [0, 4, 8, 0, 4, 8]  # round 0: M0, no label
    m0 = results.select(round=0)
    assert np.isfinite(m0["auc"]).all() and (m0["train_time"] == 0).all()
    taught = results.select(round=[1, 2])
    assert (taught["n_positive"] + taught["n_negative"] == 4).all()
    auc = results["auc"]
    assert np.all((auc >= 0) & (auc <= 1))
    assert np.all((results["accuracy"] >= 0) & (results["accuracy"] <= 1))
    assert np.all(taught["train_time"] > 0)
    # the AIFT strategy scores the pool every round; random sampling never predicts
    assert taught.select(method="diversity_quarter")["score_time"].min() > 0
    full = results["full_data_auc"]
    assert np.isfinite(full).all() and len(set(full.tolist())) == 1
    for rows in (results.select(method=m) for m in results.methods):
        queried = [i for r in rows for i in r["queried"]]
        assert len(set(queried)) == 8  # never the same candidate twice
        # counts agree with the oracle's labels
        for r in rows:
            assert r["n_positive"] == int(y_pool[r["queried"]].sum())
    # patch predictions are kept for round 2 only: one list of 5 patches per queried candidate
    kept = [r for r in results if r["patch_proba"] is not None]
    assert [r["round"] for r in kept] == [2, 2]
    assert np.asarray(kept[0]["patch_proba"]).shape == (4, 5)
    on_disk = ResultsTable.read_json(tmp_path / "results.json")
    assert _comparable(on_disk) == _comparable(results)
    assert len(ResultsTable.read_csv(tmp_path / "results.csv")) == 6
    # the queried candidates of the AIFT method are its best-scored, in order
    scores = results.rows[1]["scores"]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.slow
def test_resume_after_interruption_gives_the_same_table(frames, tmp_path):
    from sklearn_aift.experiment import run_comparison

    X_pool, y_pool, X_test, y_test = frames
    kwargs = dict(methods=["entropy_quarter", "ift_random"], n_rounds=2, batch_size=3,
                  seeds=[0, 1], verbose=0)
    reference = run_comparison(_net(), X_pool, y_pool, X_test, y_test, **kwargs)

    made = []

    def kill_after_eight(row):
        made.append((row["method"], row["seed"], row["round"]))
        if len(made) == 8:  # seed 1, entropy_quarter, round 1: mid-way through a run
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_comparison(_net(), X_pool, y_pool, X_test, y_test, out_dir=tmp_path,
                       callback=kill_after_eight, **kwargs)
    assert made[-2:] == [("entropy_quarter", 1, 0), ("entropy_quarter", 1, 1)]
    stored = [json.loads(line) for line in next((tmp_path / "store").glob("*.jsonl")).open()]
    assert sum(r["type"] == "round" for r in stored) == 8
    assert not (tmp_path / "results.json").exists()

    again = []
    resumed = run_comparison(_net(), X_pool, y_pool, X_test, y_test, out_dir=tmp_path,
                             callback=lambda row: again.append(
                                 (row["method"], row["seed"], row["round"])), **kwargs)
    # finished (method, seed) runs are read back; the interrupted one starts again (M0 first)
    assert again == [("entropy_quarter", 1, r) for r in range(3)] + [
        ("ift_random", 1, r) for r in range(3)]
    assert _comparable(resumed) == _comparable(reference)
    np.testing.assert_array_equal(resumed["auc"], reference["auc"])

    # a third call with the same arguments computes nothing
    nothing = []
    final = run_comparison(_net(), X_pool, y_pool, X_test, y_test, out_dir=tmp_path,
                           callback=nothing.append, **kwargs)
    assert nothing == [] and _comparable(final) == _comparable(reference)
    # a method added to the comparison runs alone: the others are read back
    added = []
    run_comparison(_net(), X_pool, y_pool, X_test, y_test, out_dir=tmp_path,
                   callback=lambda row: added.append(row["method"]),
                   **dict(kwargs, methods=["entropy_quarter", "ift_random", "diversity_quarter"]))
    assert set(added) == {"diversity_quarter"}
    assert len(list((tmp_path / "store").glob("*.jsonl"))) == 1
    # another configuration gets its own store
    run_comparison(_net(lr=0.01), X_pool, y_pool, X_test, y_test, out_dir=tmp_path,
                   **dict(kwargs, seeds=[0], methods=["ift_random"], n_rounds=1))
    assert len(list((tmp_path / "store").glob("*.jsonl"))) == 2


@pytest.mark.slow
def test_runner_rejects_bad_arguments(frames):
    from sklearn_aift.experiment import run_comparison

    X_pool, y_pool, X_test, y_test = frames
    net = _net()
    with pytest.raises(ValueError, match="unknown method 'random'"):
        run_comparison(net, X_pool, y_pool, X_test, y_test, methods=["random"], verbose=0)
    with pytest.raises(ValueError, match="exceeds the pool of 24"):
        run_comparison(net, X_pool, y_pool, X_test, y_test, n_rounds=5, batch_size=5, verbose=0)
    with pytest.raises(ValueError, match="single class"):
        run_comparison(net, X_pool, np.zeros(24, int), X_test, y_test, n_rounds=1, verbose=0)
    with pytest.raises(ValueError, match="y_pool"):
        run_comparison(net, X_pool, y_pool[:-1], X_test, y_test, n_rounds=1, verbose=0)
    with pytest.raises(ValueError, match="seeds"):
        run_comparison(net, X_pool, y_pool, X_test, y_test, n_rounds=1, seeds=[], verbose=0)
    with pytest.raises(ValueError, match="positive_label"):
        run_comparison(net, X_pool, y_pool, X_test, y_test, n_rounds=1, positive_label=7,
                       verbose=0)


# --------------------------------------------------------------------------- parallel studies
@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    """A fixed "pretrained" network: every seed's frozen blocks are the same."""
    import torch
    import torchvision

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "mobilenet_v3_small.pt"
    torch.save(torchvision.models.mobilenet_v3_small().state_dict(), path)
    return path


def _study(frames, out_dir=None, **kwargs):
    from sklearn_aift.experiment import run_comparison

    X_pool, y_pool, X_test, y_test = frames
    settings = dict(methods=["entropy_quarter", "ift_random"], n_rounds=2, batch_size=3,
                    seeds=[0, 1], verbose=0)
    settings.update(kwargs)
    net = settings.pop("net", None) or _net()
    return run_comparison(net, X_pool, y_pool, X_test, y_test, out_dir=out_dir, **settings)


def _same_results(a, b):
    assert _comparable(a) == _comparable(b)
    np.testing.assert_array_equal(a["auc"], b["auc"])
    assert [r["scores"] for r in a] == [r["scores"] for r in b]
    assert [r["patch_proba"] for r in a] == [r["patch_proba"] for r in b]


@pytest.fixture(scope="module")
def serial_study(frames):
    return _study(frames, full_data=True)


def test_processes_give_the_serial_results_and_resume(frames, serial_study, tmp_path):
    seen = []
    parallel = _study(frames, out_dir=tmp_path, n_jobs=2, full_data=True, callback=seen.append)
    _same_results(parallel, serial_study)
    np.testing.assert_array_equal(parallel["full_data_auc"], serial_study["full_data_auc"])
    assert sorted((r["method"], r["seed"], r["round"]) for r in seen) == sorted(
        (r["method"], r["seed"], r["round"]) for r in serial_study)
    # every run is stored and marked done: a second call computes nothing
    again = []
    _same_results(_study(frames, out_dir=tmp_path, n_jobs=2, full_data=True,
                         callback=again.append), serial_study)
    assert again == []


def test_progress_counts_the_rounds_of_every_worker(frames, monkeypatch):
    import sklearn_aift.experiment._runner as runner

    bars = []

    class Bar:
        def __init__(self, total, initial, **kwargs):
            self.total, self.n = total, initial
            bars.append(self)

        def update(self, n=1):
            self.n += n

        def set_postfix_str(self, text):
            pass

        def close(self):
            pass

    monkeypatch.setattr(runner, "tqdm", Bar)
    _study(frames, n_jobs=2, n_rounds=1, verbose=1)
    assert bars[0].total == 4 and bars[0].n == 4


def test_dask_cluster_gives_the_serial_results(frames, serial_study):
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    from sklearn_aift.parallel import dask_backend

    with dask_backend(n_workers=2, dashboard_address=None) as client:
        with distributed.get_task_stream(client=client) as stream:
            on_dask = _study(frames, full_data=True)
    _same_results(on_dask, serial_study)
    np.testing.assert_array_equal(on_dask["full_data_auc"], serial_study["full_data_auc"])
    runs = {str(t["key"]) for t in stream.data if str(t["key"]).startswith("aift-run-")}
    assert len(runs) == 6  # 2 methods x 2 seeds + 2 full-data fits


def test_one_frozen_pass_per_study_kept_for_the_next_run(frames, weights_file, tmp_path,
                                                         monkeypatch):
    from sklearn_aift.net._module import _AIFTModule

    X_pool, y_pool, X_test, y_test = frames
    patches = []
    prefix = _AIFTModule.prefix

    def counting_prefix(self, x):
        patches.append(len(x))
        return prefix(self, x)

    monkeypatch.setattr(_AIFTModule, "prefix", counting_prefix)
    net = _net(weights=str(weights_file))
    first = _study(frames, out_dir=tmp_path, net=net)
    n_patches = (len(X_pool) + len(X_test)) * X_pool.shape[1]
    assert sum(patches) == n_patches  # 2 methods x 2 seeds, one pass
    stored = list((tmp_path / "activations").glob("*.keys.npy"))
    assert len(stored) == 1 and len(np.load(stored[0])) == len(X_pool) + len(X_test)
    # the same study with one more seed: the pass is read back, nothing goes through the prefix
    patches.clear()
    more = _study(frames, out_dir=tmp_path, net=net, seeds=[0, 1, 2])
    assert sum(patches) == 0
    _same_results(more.select(seed=[0, 1]), first)
    # scratch's random frozen blocks differ per seed: its runs make their own
    _study(frames, out_dir=tmp_path, net=net, seeds=[0], methods=["scratch"])
    assert sum(patches) > 0
    # and a reference without the shared pass gives the same numbers
    fresh = _study(frames, net=net, seeds=[2], methods=["entropy_quarter"])
    _same_results(more.select(seed=2, method="entropy_quarter"), fresh)


def test_result_store_runs_a_method_again_when_its_strategy_changed(tmp_path):
    from sklearn_aift.experiment._store import _ResultStore

    store = _ResultStore(tmp_path / "s.jsonl", "k", {})
    store.load_for({"a": {"params": {"x": 1}}, "b": {"params": {}}})
    for method in ("a", "b"):
        store.append({"type": "round", "method": method, "seed": 0, "round": 0})
        store.append({"type": "done", "method": method, "seed": 0, "n_rounds": 0})
    # same strategies: everything is kept
    again = store.load_for({"a": {"params": {"x": 1}}, "b": {"params": {}}})
    assert sum(r["type"] == "done" for r in again) == 2
    # a's parameters changed: a's records go, b's stay, a is described anew
    changed = _ResultStore(tmp_path / "s.jsonl", "k", {}).load_for({"a": {"params": {"x": 2}}})
    assert [r["method"] for r in changed if r["type"] == "done"] == ["b"]
    assert {"type": "method", "method": "a", "strategy": {"params": {"x": 2}}} in changed
    reread = _ResultStore(tmp_path / "s.jsonl", "k", {}).load()
    assert [r["method"] for r in reread if r["type"] == "done"] == ["b"]
