"""Configuration of a training run: one frozen dataclass, its defaults the documented defaults; the copy of it a
run directory keeps (config.json)."""
import dataclasses
from pathlib import Path

from tfrecords_tools.dataset.manifest import read_json_document
from tfrecords_tools.dataset.validate import key_problem
from xmodal.augmentation.augment import Augmentation

CONFIG = "config.json"  # a run's settings, with the data it trains on and that data's shard checksums
STORED_KEYS = {"preset": str, "loss": str, "data": str}  # in every config.json a run wrote
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
BATCHES = ("triplets", "objects")
STRATEGIES = ("mirrored", "multi_worker")


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """Settings of `python -m xmodal.fit`."""

    data: str = ""  # converted dataset; empty: the built-in synthetic cars, made once and cached
    preset: str = "small-hd"  # the best measured with its shipped pretrained encoders (docs/results.md)
    steps: int = 4000  # an upper bound: validation keeps the best weights and stops early
    batch_size: int = 24  # triplets per global mini-batch, as the report
    out: str = ""  # run directory; empty: runs/<preset>
    export: str = ""  # export base, a numbered version per run; empty: saved_models/<run name>
    seed: int = 0
    resume: bool = False
    loss: str = "info_nce"  # a name of xmodal.training.losses.LOSSES; the best in docs/results.md ("triplet": eq. (1))
    batches: str = ""  # "triplets" (the report's) or "objects" (P x K); empty: triplets for `triplet`, else objects
    objects_per_batch: int = 16  # P of P x K batches
    views_per_object: int = 3  # K of P x K batches
    margin: float = 1.0
    temperature: float = 0.1  # of info_nce
    normalize: bool | None = None  # L2-normalised embeddings; None: only for info_nce (which compares cosines)
    learning_rate: float = 0.0  # the peak after warm-up; 0: by the start (pretrained.peak_rate)
    warmup_steps: int = 0  # linear warm-up from 0 to the learning rate
    decay_steps: int = 0  # then cosine decay to DECAY_FLOOR x the rate over these steps (0: constant); not tied
    # to --steps, so a longer run repeats a shorter one step for step
    weight_decay: float = 0.0  # decoupled (AdamW) weight decay of kernels
    dropout: float = 0.0  # before each fc layer of both encoders
    learn_temperature: bool = True  # InfoNCE's temperature as a trained weight (CLIP), from --temperature
    crop: float = 1.0  # augmentation: smallest crop side of the renders (1: no crops)
    color_jitter: float = 0.0  # augmentation: colour jitter strength (0: none)
    mirror: bool = False  # augmentation: mirror objects (voxels and all their views) left-right
    # augmentation that makes retrieval survive photos (docs/results.md), as the robust pretraining run
    shift: float = 0.08  # augmentation: largest move of the renders along each axis, a fraction of the side
    zoom: float = 0.15  # augmentation: renders zoomed by factors in [1 - zoom, 1 + zoom]
    rotate: float = 10.0  # augmentation: largest turn of the renders, degrees
    background: float = 0.8  # augmentation: share of renders put on a new background (format-3 data)
    backgrounds: str = ""  # augmentation: a folder of photographs for the new backgrounds; empty: textures only
    blur: float = 1.0  # augmentation: largest Gaussian blur, pixels (half the renders)
    noise: float = 4.0  # augmentation: largest Gaussian noise, grey levels
    jpeg: float = 0.5  # augmentation: share of renders re-encoded as JPEG (quality 30-95)
    clean: float = 0.5  # augmentation: share of renders left as converted by all of the above (mirroring aside)
    perturbed_validation: bool = True  # the best checkpoint is chosen on clean and perturbed validation renders
    mirror_average: bool = True  # validation, evaluation and the export embed each input averaged with its mirror
    same_category: bool = False  # P x K batches of one category each (harder negatives)
    validation_objects: int = -1  # training objects held out for validation; -1: a tenth, at most 256; 0: none
    eval_every: int = 500  # steps between validations
    patience: int = 6  # stop after this many validations without improvement (0: never)
    init: str = "pretrained"  # start both encoders from: the shipped pretrained ones (xmodal.training.pretrained), "none"
    # (from scratch), or an export or run directory (fine-tuning)
    voxel_channels: int = 2  # one-hot (empty, filled) as Table 1, or 1
    precision: str = "float32"
    strategy: str = "mirrored"  # or multi_worker (a cluster described by TF_CONFIG)
    jit: bool = False
    checkpoint_every: int = 500
    test_every: int = 20  # one test mini-batch every 20 iterations, the report's Figure 4 protocol
    shuffle_buffer: int = 256
    synth_objects: int = 2000  # size of the built-in dataset: more objects, less memorising (docs/results.md)

    @property
    def batch_kind(self) -> str:
        """Which batches the loss trains on."""
        return self.batches or ("triplets" if self.loss == "triplet" else "objects")

    @property
    def augmentation(self) -> Augmentation:
        """The augmentation of the training stream."""
        return Augmentation(self.crop, self.color_jitter, self.mirror, self.shift, self.zoom, self.rotate,
                            self.background, self.blur, self.noise, self.jpeg, self.clean)

    @property
    def normalized(self) -> bool:
        """Whether both encoders end in an L2 normalisation."""
        return self.loss == "info_nce" if self.normalize is None else self.normalize

    @property
    def run_dir(self) -> str:
        """Where config.json, logs and checkpoints go."""
        return self.out or f"runs/{self.preset}"

    @property
    def export_dir(self) -> str:
        """The export base: each run exports a new numbered version into it (xmodal.serving.versions)."""
        return self.export or f"saved_models/{self.run_dir.rstrip('/').split('/')[-1]}"


def setting_problem(name: str, value: object, default: object) -> str | None:
    """What makes a stored setting's value of another JSON type than its default's, or None."""
    if default is None:  # normalize: a boolean or null
        fits = value is None or isinstance(value, bool)
    elif isinstance(default, bool):
        fits = isinstance(value, bool)
    elif isinstance(default, float):
        fits = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        fits = isinstance(value, type(default)) and not isinstance(value, bool)
    return None if fits else f"key {name} holds {value!r}, not a value of its type"


def stored_problem(document: object) -> str | None:
    """What makes a document other than the config.json `fit` writes, or None."""
    problem = key_problem("", document, STORED_KEYS, CONFIG)
    if problem:
        return problem
    defaults = FitConfig()
    for field in dataclasses.fields(FitConfig):
        if field.name in document and (problem := setting_problem(field.name, document[field.name],
                                                                getattr(defaults, field.name))):
            return problem
    return None if isinstance(document.get("dataset", {}), dict) else "key dataset must be an object"


def read_stored(run: Path) -> dict:
    """The config.json of a run directory; a UserError naming the file when it is missing, cut short or not what
    `fit` writes."""
    return read_json_document(run / CONFIG, f"{run} holds no {CONFIG}: not a run directory of xmodal.fit",
                              stored_problem, "the settings xmodal.fit writes")
