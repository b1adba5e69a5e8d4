"""The robustness benchmark (`python -m xmodal.evaluate --perturb`) on the tiny dataset and model."""
import json
import subprocess
import sys

import numpy as np
import pytest

from xmodal.serving.embedder import load_embedder
from xmodal.evaluate import evaluate
from xmodal.augmentation.perturb import SUITE
from xmodal.evaluation.robustness import robustness


@pytest.fixture(scope="module")
def report(tiny_model, tiny_data) -> dict:
    return robustness(load_embedder(tiny_model), tiny_data, "test", seed=0)


def test_every_perturbation_is_reported_both_ways_with_chance(report):
    assert list(report["perturbations"]) == list(SUITE)
    for metrics in report["perturbations"].values():
        for way in ("image_to_voxel", "voxel_to_image"):
            m = metrics[way]
            assert set(m) == {"recall@1", "recall@5", "chance_recall@1", "chance_recall@5", "of_clean@1"}
            assert 0.0 <= m["recall@1"] <= m["recall@5"] <= 1.0
    assert report["perturbations"]["clean"]["image_to_voxel"]["of_clean@1"] in (1.0, pytest.approx(1.0))
    assert report["note"] == "no --backgrounds folder of photographs: photo backgrounds are procedural textures"


def test_clean_queries_score_as_the_plain_evaluation(report, tiny_model, tiny_data):
    plain = evaluate(load_embedder(tiny_model), tiny_data, "test")
    clean = report["perturbations"]["clean"]
    for way in ("image_to_voxel", "voxel_to_image"):
        assert clean[way]["recall@1"] == plain[way]["recall@1"]
        assert clean[way]["chance_recall@1"] == plain[way]["chance_recall@1"]


def test_the_benchmark_is_the_same_on_every_run(report, tiny_model, tiny_data):
    again = robustness(load_embedder(tiny_model), tiny_data, "test", seed=0)
    assert again == report


def test_cli_writes_json_and_prints_a_table(tiny_model, tiny_data, tmp_path):
    out = tmp_path / "robust.json"
    done = subprocess.run([sys.executable, "-m", "xmodal.evaluate", "--model", tiny_model, "--data", tiny_data,
                           "--perturb", "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    stored = json.loads(out.read_text())
    assert set(stored["perturbations"]) == set(SUITE) and stored["note"] == ""
    assert "all together" in done.stdout and "chance" in done.stdout
    assert np.isfinite(stored["perturbations"]["all together"]["image_to_voxel"]["recall@1"])
