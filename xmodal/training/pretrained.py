"""The shipped starting point of `fit`: encoders pretrained on many built-in objects of every category.

`fit` starts from them by default (`--init pretrained`) and fine-tunes on the user's data: encoders that have
seen tens of thousands of shapes and their renders carry over to a few hundred new objects far better than
encoders trained on those alone (docs/results.md). They exist for the presets in RECIPES (`small`, `small-hd`);
other presets train from scratch. Where encoders specialised to one category ship (RECIPES' `small-hd-car`:
the general ones trained on further objects of that category alone), a dataset of that category alone starts
from them (`--init pretrained-all` keeps the general ones). `python -m xmodal.experiments pretrain --preset NAME
[--category C]` remakes them with their recipe.
"""
import dataclasses
import json
import shutil
from pathlib import Path
from typing import Callable

from tfrecords_tools.dataset.atomic import temporary_name
from tfrecords_tools.errors import UserError
from tfrecords_tools.dataset.manifest import write_json_atomic
from tfrecords_tools.synth.dataset import CATEGORIES
from xmodal.training.config import FitConfig
from xmodal.training.warm_start import ENCODERS, holds_encoders

WEIGHTS = Path(__file__).parents[1] / "weights"  # <preset>/{voxel,image}_encoder.keras and pretrained.json
ABOUT = "pretrained.json"
PRETRAINED, PRETRAINED_ALL, NONE = "pretrained", "pretrained-all", "none"
FINE_TUNING_RATE = 3e-4  # fit's default learning rate from shipped or given encoders (docs/results.md)
SCRATCH_RATE = 1e-3  # fit's default learning rate from scratch: Adam's default

ROBUST = {**{name: getattr(FitConfig, name) for name in ("shift", "zoom", "rotate", "background", "blur", "noise",
                                                        "jpeg")},
          "clean": 0.0}  # the robust run's augmentation: fit's defaults, every render augmented (as shipped)
PLAIN = dict.fromkeys(ROBUST, 0.0)  # the earlier runs': none of it


@dataclasses.dataclass(frozen=True)
class Recipe:
    """The pretraining data (built-in objects of `categories`, fresh ones each round) and its runs: one per round
    with batches of all its categories, then (if `same_category_steps`) batches of one category each, whose
    harder negatives teach the finer differences within a category that fine-tuning on a user's objects needs."""

    objects: int = 27000
    seed: int = 101  # no other built-in dataset uses it
    categories: tuple[str, ...] = CATEGORIES
    start: str = ""  # the shipped encoders (a folder name in WEIGHTS) the first run starts from; "": from scratch
    rounds: int = 1  # the first run repeated on fresh objects (seeds seed, seed + 1, ...), each from the one before
    learning_rate: float = 1e-3  # of the first run
    views: int = 8
    test_fraction: float = 0.02
    steps: int = 20000
    objects_per_batch: int = 32
    views_per_object: int = 2
    color_jitter: float = 0.3
    mirror: bool = True
    eval_every: int = 2500
    same_category_steps: int = 0
    same_category_learning_rate: float = 3e-4
    robust_steps: int = 0  # a last run on fresh objects with ROBUST augmentation, chosen on perturbed validation
    robust_learning_rate: float = 3e-4

    @property
    def datasets(self) -> int:
        """How many fresh datasets of built-in objects the runs use (seeds seed, seed + 1, ...)."""
        return self.rounds + (1 if self.robust_steps else 0)

    def fit_configs(self, datasets: list[str], work: Path, preset_name: str) -> list[FitConfig]:
        """The runs in turn, each with a cosine decay over its steps and no early stop: one per round (dataset),
        the first from `start`, then the same-category one, then the robust one on the last dataset; each later run
        from the best weights of the one before."""
        runs = []
        for index, data in enumerate(datasets[:self.rounds]):
            name, export = ("run", "export") if index == 0 else (f"round-{index + 1}", f"round-{index + 1}-export")
            runs.append(FitConfig(data=data, preset=preset_name, steps=self.steps, decay_steps=self.steps,
                                  learning_rate=self.learning_rate, objects_per_batch=self.objects_per_batch,
                                  views_per_object=self.views_per_object, color_jitter=self.color_jitter,
                                  mirror=self.mirror, eval_every=self.eval_every, patience=0, **PLAIN,
                                  perturbed_validation=False,
                                  init=runs[-1].out if runs else str(WEIGHTS / self.start) if self.start else NONE,
                                  out=str(work / name), export=str(work / export)))
        if steps := self.same_category_steps:
            runs.append(dataclasses.replace(runs[-1], steps=steps, decay_steps=steps, same_category=True,
                                            init=runs[-1].out, learning_rate=self.same_category_learning_rate,
                                            eval_every=max(steps // 4, 1), out=str(work / "same-category"),
                                            export=str(work / "same-category-export")))
        if steps := self.robust_steps:
            runs.append(dataclasses.replace(runs[-1], **ROBUST, data=datasets[-1], steps=steps, decay_steps=steps,
                                            init=runs[-1].out, learning_rate=self.robust_learning_rate,
                                            perturbed_validation=True, eval_every=max(steps // 4, 1),
                                            out=str(work / "robust"), export=str(work / "robust-export")))
        return runs


def specialised(preset_name: str, category: str) -> Recipe:
    """The recipe of encoders specialised to one category: the preset's general encoders trained further, in two
    rounds of 12000 fresh built-in objects of that category alone, then a robust run on a third."""
    return Recipe(objects=12000, seed=103, categories=(category,), start=preset_name, rounds=2, steps=8000,
                  learning_rate=3e-4, eval_every=2000, robust_steps=8000)


RECIPES = {  # of the shipped encoders, by folder name: <preset> (every category) or <preset>-<category>
    "small": Recipe(steps=30000),
    "small-hd": Recipe(same_category_steps=12000, robust_steps=4000),
    "small-hd-car": specialised("small-hd", "car"),
}


def quick(recipe: Recipe) -> Recipe:
    """A tiny version of a recipe (seconds, for the tests): the same runs, on 36 objects, of a few steps each."""
    return dataclasses.replace(recipe, objects=36, views=2, test_fraction=0.2, steps=4, objects_per_batch=2,
                               eval_every=2, same_category_steps=min(recipe.same_category_steps, 2),
                               robust_steps=min(recipe.robust_steps, 2))


def weights_name(preset_name: str, category: str = "") -> str:
    """The folder name of a preset's shipped encoders: of every category, or specialised to `category`."""
    return f"{preset_name}-{category}" if category else preset_name


def recipe(preset_name: str, category: str = "") -> Recipe:
    """The pretraining recipe of a preset's encoders (specialised to `category`): that of the shipped ones, or
    the default one."""
    return RECIPES.get(weights_name(preset_name, category), specialised(preset_name, category) if category else Recipe())


def shipped(preset_name: str, category: str = "") -> Path | None:
    """The folder of the shipped encoders of a preset (specialised to `category`), or None."""
    folder = WEIGHTS / weights_name(preset_name, category)
    return folder if holds_encoders(folder) else None


def init_source(init: str, preset_name: str, categories: Callable[[], set[str]]) -> str:
    """What `fit` starts from: an export or run directory, the shipped encoders (specialised to the data's one
    category where they exist; `categories()` is read only then), or "" (from scratch)."""
    if init not in (PRETRAINED, PRETRAINED_ALL):
        return "" if init in ("", NONE) else init
    folder = shipped(preset_name)
    if folder is None:
        print(f"no pretrained encoders ship for preset {preset_name}: training from scratch")
        return ""
    specialised_to = {category for category in CATEGORIES if shipped(preset_name, category)}
    if init == PRETRAINED and specialised_to and len(found := categories()) == 1 and found <= specialised_to:
        folder = shipped(preset_name, found.pop())
    about = json.loads((folder / ABOUT).read_text())
    if folder.name == preset_name:
        print(f"starting from the pretrained {preset_name} encoders ({about['objects']} built-in objects, "
              f"{len(about['categories'])} categories; --init none trains from scratch)")
    else:
        print(f"starting from the pretrained {preset_name} encoders specialised to {about['categories'][0]} (trained "
              f"further on {about['objects'] * about['recipe']['rounds']} built-in objects of that category alone; "
              "--init pretrained-all starts from those of every category, --init none from scratch)")
    return str(folder)


def peak_rate(cfg: FitConfig) -> float:
    """The learning rate after warm-up: --learning-rate, or by default FINE_TUNING_RATE when the run starts from
    encoders (shipped or given) and SCRATCH_RATE when it starts from scratch."""
    if cfg.learning_rate:
        return cfg.learning_rate
    if cfg.init in ("", NONE) or cfg.init in (PRETRAINED, PRETRAINED_ALL) and shipped(cfg.preset) is None:
        return SCRATCH_RATE
    return FINE_TUNING_RATE


def publish(export: Path, out: Path, recipe: Recipe, preset_name: str, exported: dict, test: dict) -> Path:
    """Copy an export's encoders and their description into `out`, replacing encoders published there before;
    a UserError when `out` holds anything else."""
    if out.exists() and not (out / ABOUT).is_file():
        raise UserError(f"--weights {out}: the folder exists and holds no published encoders; choose another")
    staging = temporary_name(out)
    staging.mkdir(parents=True)
    for name in ENCODERS:
        shutil.copy2(export / name, staging / name)
    write_json_atomic(staging / ABOUT, {"preset": preset_name, "objects": recipe.objects,
                                        "categories": list(recipe.categories),
                                        "recipe": dataclasses.asdict(recipe), "exported": exported, "test": test})
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    return out
