"""`python -m xmodal.experiments architectures|losses|ablation|pretrain [--quick]`: experiments on the built-in data.

- architectures: the report's Figure 4 at CPU scale: the four candidates trained with equation
  (1) (Adam default, margin 1, 24 triplets per batch), train loss every step and the loss of one
  test mini-batch every 20 steps; CSV + PNG in the output folder.
- losses: one architecture, dataset and step budget per loss; a markdown table of Recall@1/@5
  both ways, mAP, modality gap and training time.
- ablation: the training recipe of issue-sized data, each change alone on top of the recipe before it
  (BEFORE), all four together, and the defaults, on two datasets: the built-in cars and a second set
  of several categories, another seed and size, that the defaults were not chosen on.
- pretrain: remakes the encoders `fit` starts from (xmodal.training.pretrained): the preset's recipe of built-in objects of
  every category, trained from scratch (resumed when its run exists), the best weights published
  into --weights (the shipped folder of the preset by default); with --category, the encoders
  specialised to that category, trained further from the preset's shipped ones.
--quick runs a tiny version (the tests use it; the ablation's runs before and with all the changes only).
"""
import argparse
import csv
import dataclasses
import io
import json
import shutil
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfrecords_tools.dataset.atomic import atomic_file, write_text_atomic
from tfrecords_tools.errors import add_verbose_flag, run_cli
from tfrecords_tools.synth.dataset import CATEGORIES
from xmodal.training.builtin_data import synthetic_dataset
from xmodal.training.config import FitConfig
from xmodal.fit import checkpoint_dir, fit
from xmodal.training.models import preset
from xmodal.training.pretrained import PLAIN, WEIGHTS, Recipe, publish, quick, recipe as pretraining_recipe, weights_name


@dataclasses.dataclass(frozen=True)
class Scale:
    """Dataset and budget of one experiment scale."""

    objects: int
    views: int
    steps: int
    loss_steps: int
    batch_size: int = 24  # triplets, as the report
    objects_per_batch: int = 16  # P of P x K batches; K = 3
    seed: int = 2016  # of the benchmark dataset, distinct from the demo's
    categories: tuple[str, ...] = ("car",)

    def fit_config(self, **fields) -> FitConfig:
        """A FitConfig with this scale's batch sizes, trained from scratch."""
        return FitConfig(batch_size=self.batch_size, objects_per_batch=self.objects_per_batch, init="none", **fields)


FULL = Scale(objects=640, views=12, steps=1500, loss_steps=3000)
QUICK = Scale(objects=16, views=4, steps=30, loss_steps=30, batch_size=4, objects_per_batch=4)
# The ablation's second dataset: other categories, seed, size and views, never used to choose the defaults.
UNSEEN = Scale(objects=500, views=8, steps=0, loss_steps=0, seed=23, categories=("car", "chair", "table", "aircraft"))
UNSEEN_QUICK = dataclasses.replace(QUICK, seed=23, categories=("chair", "table"))
QUICK_ABLATION = dict(objects_per_batch=4, views_per_object=2, validation_objects=3, eval_every=10)
DEFAULTS = FitConfig()
BEFORE = dict(preset="small", objects_per_batch=16, views_per_object=3, learning_rate=1e-3, warmup_steps=0,
              decay_steps=0, weight_decay=0.0, dropout=0.0, learn_temperature=False, crop=1.0, color_jitter=0.0,
              mirror=False, mirror_average=False, validation_objects=0, init="none", **PLAIN,
              perturbed_validation=False)  # the recipe of xmodal 0.1 (docs/results.md before the ablation)
CHANGES = (  # (label, the settings that make the change)
    ("validation: best checkpoint, early stopping", dict(validation_objects=-1, eval_every=500, patience=6)),
    ("augmentation: crops, colour jitter, mirroring", dict(crop=0.7, color_jitter=0.3, mirror=True)),
    ("AdamW, warm-up and cosine decay", dict(weight_decay=0.05, warmup_steps=300, decay_steps=-1)),  # -1: the run's steps
    ("learned temperature", dict(learn_temperature=True)),
)
CANDIDATES = ("1-conv-1-fc", "2-conv-1-fc", "3-conv-1-fc", "2-conv-2-fc")
LOSS_RUNS = (  # (label, FitConfig overrides): the report's setting first
    ("triplet, report's batches (eq. 1)", dict(loss="triplet")),
    ("triplet, P x K batches (all triplets)", dict(loss="triplet", batches="objects")),
    ("symmetric_triplet", dict(loss="symmetric_triplet")),
    ("batch_hard", dict(loss="batch_hard")),
    ("semi_hard", dict(loss="semi_hard")),
    ("lifted", dict(loss="lifted")),
    ("info_nce", dict(loss="info_nce")),
)


def benchmark_data(scale: Scale) -> str:
    """The built-in benchmark dataset of this scale (32^3 voxels, 64^2 images), made once and cached."""
    return synthetic_dataset(scale.objects, scale.seed, 32, 64, scale.views, scale.categories)


def fresh_fit(cfg: FitConfig) -> dict:
    """fit() in a run directory emptied first, so an experiment can be rerun."""
    shutil.rmtree(cfg.run_dir, ignore_errors=True)
    return fit(cfg)


def scalars(logdir: Path, run: str) -> list[tuple[int, float]]:
    """(step, value) of the `loss` scalar of one TensorBoard run."""
    points = []
    for path in sorted((logdir / run).glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            points += [(event.step, float(tf.make_ndarray(v.tensor))) for v in event.summary.value if v.tag == "loss"]
    return points


def architectures(scale: Scale, out: Path, work: Path) -> None:
    """Learning curves of the four candidates: architectures.csv and architectures.png."""
    data = benchmark_data(scale)
    rows = []
    for name in CANDIDATES:
        cfg = scale.fit_config(data=data, preset=f"cpu-{name}", steps=scale.steps, out=str(work / name),
                        export=str(work / f"{name}-export"), checkpoint_every=scale.steps)
        fresh_fit(cfg)
        rows += [(name, "train", step, value) for step, value in scalars(work / name / "logs", "train")]
        rows += [(name, "test", step, value) for step, value in scalars(work / name / "logs", "test")]
    write_csv(out / "architectures.csv", [("architecture", "split", "step", "loss"), *rows])
    plot_curves(rows, out / "architectures.png")


def write_csv(path: Path, rows: list) -> None:
    """Rows as a CSV file, written atomically."""
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    write_text_atomic(path, text.getvalue())


def plot_curves(rows: list, path: Path) -> None:
    """One panel per architecture: the train loss (smoothed over 50 steps) and the test loss."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(10, 7), sharey=True)
    for ax, name in zip(axes.ravel(), CANDIDATES):
        for split, style in (("train", "-"), ("test", "o-")):
            steps = np.array([r[2] for r in rows if r[0] == name and r[1] == split])
            values = np.array([r[3] for r in rows if r[0] == name and r[1] == split])
            if split == "train" and len(values) >= 50:
                values = np.convolve(values, np.ones(50) / 50, mode="valid")
                steps = steps[49:]
            ax.plot(steps, values, style, markersize=2, label=f"{split} loss")
        ax.set_title(name)
        ax.set_xlabel("iteration")
        ax.legend()
    figure.suptitle("Learning curves, equation (1), CPU-scale candidates (the report's Figure 4 protocol)")
    figure.tight_layout()
    with atomic_file(path) as tmp:
        figure.savefig(tmp, dpi=100)
    plt.close(figure)


def losses(scale: Scale, out: Path, work: Path, preset: str) -> None:
    """One run per loss with the same architecture, data and steps: losses.md and losses.csv."""
    data = benchmark_data(scale)
    header = ("loss", "image->voxel R@1", "image->voxel R@5", "voxel->image R@1", "voxel->image R@5",
              "image->voxel mAP", "voxel->image mAP", "modality gap (mean)", "train minutes")
    rows = []
    for index, (label, overrides) in enumerate(LOSS_RUNS):
        cfg = scale.fit_config(data=data, preset=preset, steps=scale.loss_steps, out=str(work / f"loss-{index}"),
                        export=str(work / f"loss-{index}-export"), checkpoint_every=scale.loss_steps, **overrides)
        start = time.perf_counter()
        metrics = fresh_fit(cfg)["metrics"]
        minutes = (time.perf_counter() - start) / 60
        i2v, v2i = metrics["image_to_voxel"], metrics["voxel_to_image"]
        rows.append((label, i2v["recall@1"], i2v["recall@5"], v2i["recall@1"], v2i["recall@5"], i2v["map"],
                     v2i["map"], metrics["modality_gap"]["mean"], minutes))
    write_csv(out / "losses.csv", [header, *rows])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join([r[0]] + [f"{x:.3f}" for x in r[1:-1]] + [f"{r[-1]:.1f}"]) + " |" for r in rows]
    write_text_atomic(out / "losses.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


def ablation_runs(steps: int) -> list[tuple[str, dict]]:
    """(label, FitConfig overrides): the recipe before, each change alone on top of it, all four changes, and
    the defaults; cosine decays end with the run's `steps`."""
    runs = [("before (xmodal 0.1)", BEFORE)]
    runs += [(f"+ {label}", {**BEFORE, **fields}) for label, fields in CHANGES]
    runs += [("all four changes", {**BEFORE, **{k: v for _, fields in CHANGES for k, v in fields.items()}}),
             ("the defaults (validation, learned temperature, pretrained encoders, mirror-averaged embeddings)", {})]
    return [(label, {**fields, "steps": steps, "checkpoint_every": steps,
                     "decay_steps": steps if fields.get("decay_steps") == -1 else fields.get("decay_steps", 0)})
            for label, fields in runs]


def ablation_row(cfg: FitConfig) -> list:
    """Held-out R@1, R@5 both ways, gap, exported step and minutes of one run: stored beside it, so a rerun
    of the experiment skips the runs it finished."""
    stored = Path(cfg.run_dir + "-row.json")
    key = json.dumps(dataclasses.asdict(cfg), sort_keys=True)
    if stored.is_file() and json.loads(stored.read_text())["config"] == key:
        return json.loads(stored.read_text())["row"]
    shutil.rmtree(cfg.export_dir, ignore_errors=True)
    start = time.perf_counter()
    result = fresh_fit(cfg)
    minutes = (time.perf_counter() - start) / 60
    i2v, v2i = result["metrics"]["image_to_voxel"], result["metrics"]["voxel_to_image"]
    row = [i2v["recall@1"], i2v["recall@5"], v2i["recall@1"], v2i["recall@5"],
           result["metrics"]["modality_gap"]["mean"], result["exported"]["step"], minutes]
    write_text_atomic(stored, json.dumps({"config": key, "row": row}))
    return row


def ablation(scales: tuple[Scale, Scale], runs: list[tuple[str, dict]], out: Path, work: Path, extra: dict) -> None:
    """ablation.md and ablation.csv: held-out retrieval of each run on both datasets (`extra` overrides every run)."""
    header = ("dataset", "run", "image->voxel R@1", "image->voxel R@5", "voxel->image R@1", "voxel->image R@5",
              "modality gap (mean)", "exported step", "train minutes")
    rows = []
    for scale in scales:
        data = benchmark_data(scale)
        name = f"{'+'.join(scale.categories)} ({scale.objects}, seed {scale.seed})"
        for index, (label, overrides) in enumerate(runs):
            run = work / f"ablation-{scale.seed}-{index}"
            cfg = dataclasses.replace(DEFAULTS, **{**overrides, **extra}, data=data, out=str(run),
                                      export=str(run) + "-export")
            rows.append((name, label, *ablation_row(cfg)))
    write_csv(out / "ablation.csv", [header, *rows])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(list(r[:2]) + [f"{x:.3f}" for x in r[2:7]] + [str(r[7]), f"{r[8]:.1f}"]) + " |"
              for r in rows]
    write_text_atomic(out / "ablation.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


def pretrain(recipe: Recipe, work: Path, weights: Path, preset_name: str) -> None:
    """Make the pretraining data of each round, train in `work` (or resume), and publish the best encoders into
    `weights`."""
    p = preset(preset_name)
    datasets = [synthetic_dataset(recipe.objects, recipe.seed + index, p.voxel_res, p.image_size, recipe.views,
                                  recipe.categories, recipe.test_fraction) for index in range(recipe.datasets)]
    for cfg in recipe.fit_configs(datasets, work, preset_name):
        result = fit(dataclasses.replace(cfg, resume=tf.train.latest_checkpoint(checkpoint_dir(cfg)) is not None))
    publish(Path(result["export"]), weights, recipe, preset_name, result["exported"], result.get("metrics", {}))
    print(f"pretrained encoders: {weights}")


def main() -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(prog="python -m xmodal.experiments", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiment", choices=("architectures", "losses", "ablation", "pretrain"))
    parser.add_argument("--quick", action="store_true", help="a tiny version (seconds, not minutes)")
    parser.add_argument("--out", default="docs/results", help="folder for the CSV, PNG and markdown (default docs/results)")
    parser.add_argument("--work", default="runs/experiments", help="folder for the runs (default runs/experiments)")
    parser.add_argument("--preset", default="small", help="architecture of the losses experiment and of pretrain "
                        "(default small; fit's default is small-hd)")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"steps of each ablation run (default: fit's, {DEFAULTS.steps}) or of pretraining "
                             "(default: the preset's recipe, xmodal.training.pretrained.RECIPES)")
    parser.add_argument("--category", default="", choices=CATEGORIES,
                        help="pretrain: encoders specialised to this category (default: of every category)")
    parser.add_argument("--weights", default="", help="where pretrain publishes the encoders "
                        "(default: the shipped folder of the preset, or of its category)")
    add_verbose_flag(parser)
    args = parser.parse_args()
    scale = QUICK if args.quick else FULL
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    if args.experiment == "architectures":
        architectures(scale, out, work)
    elif args.experiment == "losses":
        losses(scale, out, work, args.preset)
    elif args.experiment == "pretrain":
        recipe = pretraining_recipe(args.preset, args.category)
        recipe = quick(recipe) if args.quick else dataclasses.replace(recipe, steps=args.steps or recipe.steps)
        name = weights_name(args.preset, args.category)
        pretrain(recipe, work / f"pretrain-{name}", Path(args.weights) if args.weights else WEIGHTS / name, args.preset)
    else:
        runs = ablation_runs(20 if args.quick else args.steps or DEFAULTS.steps)
        ablation((scale, UNSEEN_QUICK if args.quick else UNSEEN), [runs[0], runs[-1]] if args.quick else runs, out,
                 work, QUICK_ABLATION if args.quick else {})


if __name__ == "__main__":
    run_cli(main)
