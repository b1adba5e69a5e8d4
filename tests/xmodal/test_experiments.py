import csv
import dataclasses
import os
import subprocess
import sys

from xmodal.experiments import CHANGES, DEFAULTS, ablation_runs


def test_quick_experiments_write_curves_and_the_loss_table(tmp_path):
    out, work = tmp_path / "results", tmp_path / "runs"
    for experiment in ("architectures", "losses", "ablation"):
        done = subprocess.run([sys.executable, "-m", "xmodal.experiments", experiment, "--quick", "--out", str(out),
                               "--work", str(work)], capture_output=True, text=True, timeout=900,
                              env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")})
        assert done.returncode == 0, done.stderr[-3000:]
    with open(out / "architectures.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["architecture"] for r in rows} == {"1-conv-1-fc", "2-conv-1-fc", "3-conv-1-fc", "2-conv-2-fc"}
    assert {r["split"] for r in rows} == {"train", "test"}
    assert (out / "architectures.png").read_bytes()[:4] == b"\x89PNG"
    table = (out / "losses.md").read_text().splitlines()
    assert "image->voxel R@1" in table[0] and len(table) == 2 + 7
    assert any(line.startswith("| lifted |") for line in table) and any(line.startswith("| info_nce |") for line in table)
    ablation = (out / "ablation.md").read_text().splitlines()
    assert len(ablation) == 2 + 2 * 2  # quick: before and all, on the cars and on the unseen categories
    assert sum("| the defaults (" in line for line in ablation) == 2
    assert any("chair+table" in line for line in ablation)


def test_ablation_adds_each_change_alone_to_the_recipe_before():
    runs = {label: {**dataclasses.asdict(DEFAULTS), **fields} for label, fields in ablation_runs(3000)}
    before = runs.pop("before (xmodal 0.1)")
    assert before["validation_objects"] == 0 and before["crop"] == 1.0 and not before["learn_temperature"]
    assert before["init"] == "none" and not before["mirror_average"]
    assert before["shift"] == before["background"] == before["jpeg"] == 0.0 and not before["perturbed_validation"]
    for label, fields in CHANGES:
        changed = runs[f"+ {label}"]
        assert {k for k in changed if changed[k] != before[k]} <= set(fields)
        assert all(changed[k] == v for k, v in fields.items() if k != "decay_steps")
    every = runs["all four changes"]
    assert all(every[k] == runs[f"+ {label}"][k] for label, fields in CHANGES for k in fields)
    assert every["decay_steps"] == 3000 and every["steps"] == 3000 and before["decay_steps"] == 0
    defaults = runs["the defaults (validation, learned temperature, pretrained encoders, mirror-averaged embeddings)"]
    assert defaults["validation_objects"] == -1 and defaults["learn_temperature"] and defaults["crop"] == 1.0
    assert defaults["init"] == "pretrained" and defaults["mirror_average"]
    assert defaults["background"] > 0 and defaults["shift"] > 0 and defaults["perturbed_validation"]
