"""The shipped starting point of `fit`: encoders pretrained on many built-in objects of every category.

`fit` starts from them by default (`--init pretrained`) and fine-tunes on the user's data: encoders that have
seen tens of thousands of shapes and their renders carry over to a few hundred new objects far better than
encoders trained on those alone (docs/results.md). They exist for the presets in RECIPES (`small`, `small-hd`);
other presets train from scratch. `python -m xmodal.experiments pretrain --preset NAME` remakes them with the
preset's recipe.
"""
import dataclasses
import json
import shutil
from pathlib import Path

from tfrecords_tools.atomic import temporary_name
from tfrecords_tools.errors import UserError
from tfrecords_tools.manifest import write_json_atomic
from tfrecords_tools.synth import CATEGORIES
from xmodal.config import FitConfig
from xmodal.warm_start import ENCODERS, holds_encoders

WEIGHTS = Path(__file__).parent / "weights"  # <preset>/{voxel,image}_encoder.keras and pretrained.json
ABOUT = "pretrained.json"
PRETRAINED, NONE = "pretrained", "none"


@dataclasses.dataclass(frozen=True)
class Recipe:
    """The pretraining data (built-in objects of every category) and its runs: batches of all categories, then
    (if `same_category_steps`) batches of one category each, whose harder negatives teach the finer differences
    within a category that fine-tuning on a user's objects needs."""

    objects: int = 27000
    seed: int = 101  # no other built-in dataset uses it
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

    def fit_configs(self, data: str, work: Path, preset_name: str) -> list[FitConfig]:
        """The runs in turn, each with a cosine decay over its steps and no early stop; the first from scratch,
        the second from the first's best weights."""
        first = FitConfig(data=data, preset=preset_name, steps=self.steps, decay_steps=self.steps,
                          objects_per_batch=self.objects_per_batch, views_per_object=self.views_per_object,
                          color_jitter=self.color_jitter, mirror=self.mirror, eval_every=self.eval_every,
                          patience=0, init=NONE, out=str(work / "run"), export=str(work / "export"))
        if not self.same_category_steps:
            return [first]
        steps = self.same_category_steps
        return [first, dataclasses.replace(first, steps=steps, decay_steps=steps, same_category=True, init=first.out,
                                           learning_rate=self.same_category_learning_rate,
                                           eval_every=max(steps // 4, 1), out=str(work / "same-category"),
                                           export=str(work / "same-category-export"))]


RECIPES = {"small": Recipe(steps=30000), "small-hd": Recipe(same_category_steps=12000)}  # of the shipped encoders
QUICK = Recipe(objects=36, views=2, test_fraction=0.2, steps=4, objects_per_batch=2, eval_every=2,
               same_category_steps=2)


def recipe(preset_name: str) -> Recipe:
    """The pretraining recipe of a preset: that of its shipped encoders, or the default one."""
    return RECIPES.get(preset_name, Recipe())


def shipped(preset_name: str) -> Path | None:
    """The folder of the shipped encoders of a preset, or None."""
    folder = WEIGHTS / preset_name
    return folder if holds_encoders(folder) else None


def init_source(init: str, preset_name: str) -> str:
    """What `fit` starts from: an export or run directory, the shipped encoders, or "" (from scratch)."""
    if init != PRETRAINED:
        return "" if init in ("", NONE) else init
    folder = shipped(preset_name)
    if folder is None:
        print(f"no pretrained encoders ship for preset {preset_name}: training from scratch")
        return ""
    about = json.loads((folder / ABOUT).read_text())
    print(f"starting from the pretrained {preset_name} encoders ({about['objects']} built-in objects, "
          f"{len(about['categories'])} categories; --init none trains from scratch)")
    return str(folder)


def publish(export: Path, out: Path, recipe: Recipe, preset_name: str, exported: dict, test: dict) -> Path:
    """Copy an export's encoders and their description into `out`, replacing encoders published there before;
    a UserError when `out` holds anything else."""
    if out.exists() and not (out / ABOUT).is_file():
        raise UserError(f"--weights {out}: the folder exists and holds no published encoders; choose another")
    staging = temporary_name(out)
    staging.mkdir(parents=True)
    for name in ENCODERS:
        shutil.copy2(export / name, staging / name)
    write_json_atomic(staging / ABOUT, {"preset": preset_name, "objects": recipe.objects, "categories": list(CATEGORIES),
                                        "recipe": dataclasses.asdict(recipe), "exported": exported, "test": test})
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    return out
