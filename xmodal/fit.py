"""`python -m xmodal.fit`: train both encoders under a tf.distribute strategy, validate, export the best.

The loss is InfoNCE on P x K batches by default (docs/results.md); `--loss triplet` trains the
report's equation (1) on its triplets. With no --data it trains the `small-hd` preset on the built-in
synthetic cars (made once and cached). Both encoders start from the shipped pretrained ones (trained
on 27000 built-in objects of 9 categories, and for data of cars alone on 24000 more cars; --init none
trains from scratch). A tenth of the
training objects (at most 256) is held out for validation: at the start and every --eval-every
steps cross-modal retrieval on them is logged, the best weights are kept, the run stops after
--patience validations without improvement, and the best weights are exported; the final table shows the
test figures of the starting weights beside them. A non-finite loss, or embeddings collapsed to one point,
stops the run without an export. The run directory holds config.json (with the data's shard checksums),
start.json, TensorBoard logs (logs/train, logs/test, logs/validation, and the embedding projector in
logs/projector) and checkpoints; --resume continues from the newest checkpoint with a finite loss and
finite weights, with the same step and optimizer state (optimiser and schedule settings, such as the
learning rate, may change), on the same data only. Off a terminal, progress is a plain line every tenth
of the run or 30 seconds.
"""
import argparse
import contextlib
import dataclasses
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable

import keras
import tensorflow as tf

from tfrecords_tools.errors import UserError, add_verbose_flag, run_cli, space_for
from tfrecords_tools.flags import (crop_fraction, fraction, non_negative_float, non_negative_int, positive_float,
                                   positive_int, seed, unit_interval)
from tfrecords_tools.dataset.manifest import object_count, read_json_document, write_json_atomic
from tfrecords_tools.dataset.read import reading
from tfrecords_tools.dataset.records import has_masks
from tfrecords_tools.dataset.validate import check_dataset, key_problem
from tfrecords_tools.dataset.lock import output_lock
from xmodal.augmentation.augment import Augmentation
from xmodal.augmentation.backgrounds import load_photos
from xmodal.training.builtin_data import builtin_dataset
from xmodal.training.callbacks import Checkpoints, Progress, Summaries
from xmodal.training.checkpoints import forget_from, remove_temporaries, restore, resumable, variable_bytes
from xmodal.training.config import BATCHES, CONFIG, PRECISIONS, STRATEGIES, FitConfig, read_stored
from xmodal.training.data import Stream, object_views, split_categories, triplets
from xmodal.serving.embedder import load_embedder
from xmodal.evaluate import evaluate
from xmodal.serving.export import write_export
from xmodal.training.loop import custom_fit, test_loss_function
from xmodal.training.losses import LOSSES
from xmodal.evaluation.metrics import spread, table
from xmodal.training.models import PRESETS, XModal, build_encoders, preset
from xmodal.training.optimizers import adam_w, learning_rate
from xmodal.training.pretrained import FINE_TUNING_RATE, SCRATCH_RATE, init_source, peak_rate
from xmodal.evaluation.projector import gather, write_projector
from xmodal.training.validation import (Validation, criterion, embedder, few_objects_note, read_history, restore_best,
                               validation_ids, validation_objects)
from xmodal.training.warm_start import warm_start
from xmodal.serving.versions import check_export_base

PROJECTOR_OBJECTS = 10
START = "start.json"  # the test-split metrics of the weights a run started from, for the final table
PROGRESS_LINES = 10  # off a terminal: a progress line every tenth of the run's steps,
PROGRESS_SECONDS = 30.0  # or every 30 seconds, whichever comes first
OPTIMIZER_SETTINGS = ("learning_rate", "warmup_steps", "decay_steps", "weight_decay")  # a resumed run may change them
RESUMABLE_CHANGES = ("steps", "resume", "export", "out", "patience", "init") + OPTIMIZER_SETTINGS  # likewise


def parse_config(argv: list[str] | None = None) -> FitConfig:
    """Flags -> FitConfig."""
    defaults = FitConfig()
    parser = argparse.ArgumentParser(prog="python -m xmodal.fit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="", help="converted dataset (default: the built-in synthetic cars)")
    parser.add_argument("--preset", default=defaults.preset, help=f"architecture: {', '.join(sorted(PRESETS))}")
    parser.add_argument("--steps", type=positive_int, default=defaults.steps, help="total training steps")
    parser.add_argument("--batch-size", type=positive_int, default=defaults.batch_size, help="triplets per global batch")
    parser.add_argument("--out", default="", help="run directory (default runs/<preset>)")
    parser.add_argument("--export", default="", help="export folder, each run adding a numbered version "
                        "(default saved_models/<run name>)")
    parser.add_argument("--seed", type=seed, default=defaults.seed, help="seed of weights and data order")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the run directory's newest checkpoint with a finite loss and finite weights")
    parser.add_argument("--loss", default=defaults.loss, choices=sorted(LOSSES), help=f"loss (default {defaults.loss})")
    parser.add_argument("--batches", default="", choices=("",) + BATCHES,
                        help="triplets (the report's) or objects (P x K); default: triplets for --loss triplet, else objects")
    parser.add_argument("--objects-per-batch", type=positive_int, default=defaults.objects_per_batch, help="P of P x K batches")
    parser.add_argument("--views-per-object", type=positive_int, default=defaults.views_per_object, help="K of P x K batches")
    parser.add_argument("--margin", type=positive_float, default=defaults.margin, help="margin of the triplet-style losses")
    parser.add_argument("--temperature", type=positive_float, default=defaults.temperature, help="temperature of info_nce")
    parser.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None,
                        help="L2-normalise the embeddings (default: only with --loss info_nce)")
    parser.add_argument("--learning-rate", type=positive_float, default=defaults.learning_rate,
                        help=f"Adam's learning rate (the peak after warm-up; default {FINE_TUNING_RATE:g} from "
                             f"pretrained or given encoders, {SCRATCH_RATE:g} from scratch: --init none or a preset "
                             "without shipped encoders)")
    parser.add_argument("--warmup-steps", type=non_negative_int, default=defaults.warmup_steps,
                        help=f"linear learning-rate warm-up (default {defaults.warmup_steps})")
    parser.add_argument("--decay-steps", type=non_negative_int, default=defaults.decay_steps,
                        help="cosine decay of the learning rate after warm-up, to 5%% of it, over this many steps; "
                             f"independent of --steps (0: constant; default {defaults.decay_steps})")
    parser.add_argument("--weight-decay", type=non_negative_float, default=defaults.weight_decay,
                        help=f"decoupled (AdamW) weight decay of the kernels (default {defaults.weight_decay})")
    parser.add_argument("--dropout", type=fraction, default=defaults.dropout,
                        help=f"dropout rate before the fc layers (default {defaults.dropout})")
    parser.add_argument("--learn-temperature", action=argparse.BooleanOptionalAction,
                        default=defaults.learn_temperature, help="train info_nce's temperature (CLIP), from --temperature")
    parser.add_argument("--crop", type=crop_fraction, default=defaults.crop,
                        help=f"augmentation: smallest random crop side of the renders, 1 = none (default {defaults.crop})")
    parser.add_argument("--color-jitter", type=fraction, default=defaults.color_jitter,
                        help=f"augmentation: colour jitter strength, 0 = none (default {defaults.color_jitter})")
    parser.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=defaults.mirror,
                        help="augmentation: mirror objects left-right, voxels together with all their views")
    parser.add_argument("--shift", type=fraction, default=defaults.shift,
                        help=f"augmentation: largest move of the renders along each axis, a share of the side "
                             f"(default {defaults.shift})")
    parser.add_argument("--zoom", type=fraction, default=defaults.zoom,
                        help=f"augmentation: zoom the renders by factors in [1 - Z, 1 + Z] (default {defaults.zoom})")
    parser.add_argument("--rotate", type=non_negative_float, default=defaults.rotate,
                        help=f"augmentation: largest turn of the renders in degrees (default {defaults.rotate})")
    parser.add_argument("--background", type=unit_interval, default=defaults.background,
                        help="augmentation: share of renders put on a new background (procedural textures, or "
                             f"photographs with --backgrounds); needs format-3 data (default {defaults.background})")
    parser.add_argument("--backgrounds", default=defaults.backgrounds,
                        help="augmentation: a folder of photographs; half the new backgrounds are crops of them")
    parser.add_argument("--blur", type=non_negative_float, default=defaults.blur,
                        help=f"augmentation: largest Gaussian blur in pixels, half the renders (default {defaults.blur})")
    parser.add_argument("--noise", type=non_negative_float, default=defaults.noise,
                        help=f"augmentation: largest Gaussian noise in grey levels (default {defaults.noise})")
    parser.add_argument("--jpeg", type=unit_interval, default=defaults.jpeg,
                        help=f"augmentation: share of renders re-encoded as JPEG, quality 30-95 (default {defaults.jpeg})")
    parser.add_argument("--clean", type=unit_interval, default=defaults.clean,
                        help="augmentation: share of renders left as converted by --shift ... --jpeg, mirroring "
                             f"aside (default {defaults.clean})")
    parser.add_argument("--perturbed-validation", action=argparse.BooleanOptionalAction,
                        default=defaults.perturbed_validation,
                        help="choose the exported weights on clean and perturbed validation renders alike "
                             "(xmodal.augmentation.perturb's 'all together')")
    parser.add_argument("--mirror-average", action=argparse.BooleanOptionalAction, default=defaults.mirror_average,
                        help="validation, the final report and the export embed each input averaged with its "
                             "left-right mirror image; turn off when an object and its mirror image must differ")
    parser.add_argument("--same-category", action=argparse.BooleanOptionalAction, default=defaults.same_category,
                        help="P x K batches of one category each: harder negatives on data of several categories "
                             "(a category with fewer than P training objects is left out)")
    parser.add_argument("--validation-objects", type=non_negative_int, default=defaults.validation_objects,
                        help="training objects held out for validation (default: a tenth, at most 256; 0: none)")
    parser.add_argument("--eval-every", type=positive_int, default=defaults.eval_every,
                        help=f"steps between validations (default {defaults.eval_every})")
    parser.add_argument("--patience", type=non_negative_int, default=defaults.patience,
                        help=f"stop after this many validations without improvement, 0 = never (default {defaults.patience})")
    parser.add_argument("--init", default=defaults.init,
                        help="start both encoders from: pretrained (the shipped encoders of the preset, where there "
                             "are any; those specialised to the data's category when it has one and they ship), "
                             "pretrained-all (the shipped encoders of every category), none (from scratch), or an "
                             f"export or run directory of the same preset (default {defaults.init})")
    parser.add_argument("--voxel-channels", type=int, choices=(1, 2), default=defaults.voxel_channels,
                        help="2: one-hot (empty, filled) as Table 1; 1: occupancy")
    parser.add_argument("--precision", choices=PRECISIONS, default=defaults.precision, help="Keras dtype policy")
    parser.add_argument("--strategy", choices=STRATEGIES, default=defaults.strategy,
                        help="mirrored: the local GPUs or the CPU; multi_worker: a cluster described by TF_CONFIG")
    parser.add_argument("--jit", action="store_true", help="compile the train step with XLA (one replica only)")
    parser.add_argument("--checkpoint-every", type=positive_int, default=defaults.checkpoint_every, help="steps between checkpoints")
    parser.add_argument("--test-every", type=positive_int, default=defaults.test_every,
                        help="steps between test-batch losses and checks that the embeddings have not collapsed")
    add_verbose_flag(parser)
    args = parser.parse_args(argv)
    return FitConfig(**{k: v for k, v in vars(args).items() if k != "verbose"})


def validate(cfg: FitConfig) -> None:
    """Reject settings that cannot run."""
    try:
        preset(cfg.preset)
    except ValueError as error:
        raise UserError(str(error)) from None
    if cfg.loss not in LOSSES:
        raise UserError(f"unknown loss {cfg.loss!r}; choose one of {', '.join(sorted(LOSSES))}")
    if cfg.batch_size < 2 or cfg.objects_per_batch < 2:
        raise UserError("--batch-size and --objects-per-batch must be at least 2 (negatives come from other objects)")
    if cfg.batch_kind == "triplets" and cfg.loss != "triplet":
        raise UserError(f"--loss {cfg.loss} compares all pairs of a batch: it needs --batches objects")
    if cfg.strategy == "multi_worker" and not cfg.data:
        raise UserError("--strategy multi_worker needs --data (a dataset every worker can read)")
    if cfg.views_per_object < 1:
        raise UserError("--views-per-object must be at least 1")
    if cfg.steps < 1 or cfg.checkpoint_every < 1 or cfg.test_every < 1 or cfg.eval_every < 1:
        raise UserError("--steps, --checkpoint-every, --test-every and --eval-every must be positive")
    if not 0.0 < cfg.crop <= 1.0 or not 0.0 <= cfg.color_jitter < 1.0 or not 0.0 <= cfg.dropout < 1.0:
        raise UserError("--crop must be in (0, 1], --color-jitter and --dropout in [0, 1)")
    if not (0.0 <= cfg.shift < 1.0 and 0.0 <= cfg.zoom < 1.0 and 0.0 <= cfg.background <= 1.0
            and 0.0 <= cfg.jpeg <= 1.0 and 0.0 <= cfg.clean <= 1.0 and min(cfg.rotate, cfg.blur, cfg.noise) >= 0.0):
        raise UserError("--shift and --zoom must be in [0, 1), --background, --jpeg and --clean in [0, 1], "
                        "--rotate, --blur and --noise at least 0")


def strategy_for(cfg: FitConfig) -> tf.distribute.Strategy:
    """MirroredStrategy over the local GPUs (or the CPU), MultiWorkerMirroredStrategy from TF_CONFIG, or
    the default strategy for XLA on one device (Keras 3.15 cannot compile under MirroredStrategy)."""
    if cfg.strategy == "multi_worker":
        if cfg.jit:
            raise UserError("--jit does not work with --strategy multi_worker in Keras 3.15")
        if not os.environ.get("TF_CONFIG"):
            raise UserError("--strategy multi_worker needs TF_CONFIG (the cluster and this worker's task)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if not cfg.jit:
        return mirrored_strategy()
    if len(gpus) > 1:
        raise UserError("--jit does not work with MirroredStrategy over several GPUs in Keras 3.15 "
                        "(keras#21366): drop --jit or expose one GPU (CUDA_VISIBLE_DEVICES)")
    return tf.distribute.get_strategy()


def mirrored_strategy(devices: list[str] | None = None) -> tf.distribute.MirroredStrategy:
    """A MirroredStrategy whose collective keys no earlier strategy of this process used.

    Strategies of one process otherwise share collective keys, and a collective traced by an earlier one with
    another shape fails the next (TensorFlow's own tests raise the key base the same way, in
    strategy_combinations)."""
    tf.distribute.MirroredStrategy._collective_key_base += 100_000
    return tf.distribute.MirroredStrategy(devices)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run: the chief, worker 0 of a cluster without one, or a lone process."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief)


def shard_checksums(manifest: dict) -> dict[str, list[str]]:
    """{split: the SHA-256 of each of its shards}: what a dataset holds, as its manifest records it."""
    return {split: [shard["sha256"] for shard in entry["shards"]] for split, entry in manifest["splits"].items()}


def prepare_run(cfg: FitConfig, data: str, dataset: dict[str, list[str]]) -> Path:
    """Create or check the run directory and write config.json with the data's shard checksums (`dataset`);
    --resume refuses other settings than the stored ones, except those the stored run predates, and data that
    changed since the run started."""
    run = Path(cfg.run_dir)
    stored = run / CONFIG
    has_checkpoint = tf.train.latest_checkpoint(str(run / "checkpoints")) is not None
    if cfg.resume and not has_checkpoint:
        raise UserError(f"--resume: {run} holds no checkpoint to resume from")
    if has_checkpoint and not cfg.resume:
        raise UserError(f"{run} already holds a run: pass --resume to continue it, or choose another --out")
    record = {**dataclasses.asdict(cfg), "data": data, "dataset": dataset}
    if cfg.resume and stored.is_file():
        before = read_stored(run)
        started_on = before.get("dataset", dataset)  # a run made before checksums were stored resumes as before
        changed = [split for split in sorted(set(dataset) | set(started_on))
                   if started_on.get(split) != dataset.get(split)]
        if changed:
            raise UserError(f"--resume: {data} changed since the run started (its {' and '.join(changed)} shards differ "
                            f"from the checksums in {stored}: converted again?); resume on the data the run started "
                            "with, or start a new run with another --out")
        changed = [k for k in record if k not in RESUMABLE_CHANGES and k in before and before[k] != record[k]]
        if changed:
            raise UserError(f"--resume with other settings than the stored run: {', '.join(changed)}")
    run.mkdir(parents=True, exist_ok=True)
    write_json_atomic(stored, record)
    return run


def compiled_model(cfg: FitConfig) -> XModal:
    """The training model of `cfg` with its optimizer built; call it inside the strategy's scope."""
    voxels, images = build_encoders(cfg.preset, cfg.voxel_channels, cfg.normalized, cfg.dropout)
    learned = cfg.learn_temperature and cfg.loss == "info_nce"  # the only loss with a temperature
    model = XModal(voxels, images, cfg.loss, cfg.margin, cfg.temperature, learned)
    rate = learning_rate(peak_rate(cfg), cfg.warmup_steps, cfg.decay_steps)
    model.compile(optimizer=adam_w(rate, cfg.weight_decay), jit_compile=cfg.jit)
    model.optimizer.build(model.trainable_variables)
    return model


def stored_model(stored: dict) -> XModal:
    """The training model of a run's stored config.json settings."""
    known = {f.name for f in dataclasses.fields(FitConfig)}
    return compiled_model(FitConfig(**{k: v for k, v in stored.items() if k in known}))


def fit(cfg: FitConfig) -> dict:
    """Train, export a new version, and return {run, export (the version's path), train_loss, steps}."""
    validate(cfg)
    strategy = strategy_for(cfg)  # first: a multi-worker strategy must exist before other TensorFlow work
    chief = is_chief(strategy)
    p = preset(cfg.preset)
    data = cfg.data or builtin_dataset(cfg.synth_objects, p.voxel_res, p.image_size)
    manifest = check_dataset(data, p.voxel_res, p.image_size)
    check_splits(data, manifest, validation_objects(cfg.validation_objects, manifest))
    if chief:
        check_export_base(cfg.export_dir, cfg.run_dir)
    with output_lock(cfg.run_dir) if chief else contextlib.nullcontext():  # one run at a time per run directory
        with space_for(cfg.run_dir):  # a full disk while writing logs or run files: one line
            return train_and_export(cfg, strategy, chief, data, manifest)


def check_splits(data: str, manifest: dict, held_out: int) -> None:
    """A UserError when the training split leaves fewer than 2 objects to train on (negatives come from other
    objects) or the test split is empty (nothing to report held-out figures on)."""
    train = object_count(manifest, "train")
    if train - held_out < 2:
        raise UserError(f"{data}: its train split has {train} objects ({held_out} of them held out for validation): "
                        "training needs at least 2; convert more meshes, or hold out fewer (--validation-objects)")
    if object_count(manifest, "test") == 0:
        raise UserError(f"{data}: its test split is empty: there is nothing to report held-out retrieval on; "
                        "convert again with a --test-fraction above 0")


def train_and_export(cfg: FitConfig, strategy: tf.distribute.Strategy, chief: bool, data: str, manifest: dict) -> dict:
    """The body of fit() once its inputs are checked (and the run directory locked, on the chief)."""
    run = (prepare_run(cfg, data, shard_checksums(manifest)) if chief
           else Path(tempfile.mkdtemp(prefix="xmodal-worker-")))
    held_out = validation_ids(data, manifest, validation_objects(cfg.validation_objects, manifest), cfg.seed)
    keras.mixed_precision.set_dtype_policy(cfg.precision)
    keras.utils.set_random_seed(cfg.seed)
    model, manager, best = starting_model(cfg, strategy, run, chief, lambda: split_categories(data, manifest, "train"))
    start = int(model.optimizer.iterations.numpy())
    start_metrics = starting_metrics(cfg, model, data, manifest, run) if chief else None
    callbacks = run_callbacks(cfg, model, strategy, data, manifest, run, held_out, best)
    train = batches(cfg, data, "train", objects_per_batch(cfg),
                    Stream(cfg.seed, start, cfg.shuffle_buffer, held_out, training_augmentation(cfg, manifest),
                           cfg.same_category))
    with reading(data):
        probe = next(iter(train))  # a fixed batch whose embeddings must stay apart
    callbacks.append(Checkpoints(manager, cfg.checkpoint_every, spread_of(model, probe), cfg.test_every))
    history = train_steps(cfg, model, strategy, data, train, callbacks, start)
    if callbacks[-1].failure is not None:
        raise UserError(callbacks[-1].failure)
    steps = int(model.optimizer.iterations.numpy())
    train_loss = history.get("loss", [None])[-1]
    if not chief:  # other workers wrote checkpoints and logs to a scratch folder only
        shutil.rmtree(run, ignore_errors=True)
        return {"run": None, "export": None, "steps": steps, "train_loss": train_loss}
    exported = restore_best(model, best, run, steps)
    export = export_weights(cfg, model, data, manifest, exported)
    write_json_atomic(run / CONFIG, {**read_stored(run), "exported": exported})
    metrics = report(export, data, run, manifest, exported, start_metrics)
    print(f"TensorBoard logs and projector: tensorboard --logdir {run / 'logs'}\nexported model: {export}")
    return {"run": str(run), "export": export, "steps": steps, "train_loss": train_loss, "metrics": metrics,
            "exported": exported}


def export_weights(cfg: FitConfig, model: XModal, data: str, manifest: dict, exported: dict) -> str:
    """Write the model's encoders as a new version of the export base, its path; a full disk is one line naming the
    base and about how much the version needs."""
    encoders = model.voxel_encoder.variables + model.image_encoder.variables
    with space_for(cfg.export_dir, 2 * variable_bytes(encoders)):  # the SavedModel and the .keras files
        return write_export(model.voxel_encoder, model.image_encoder, cfg.export_dir, manifest["views"], exported,
                            cfg.mirror_average, data)


def training_augmentation(cfg: FitConfig, manifest: dict) -> Augmentation:
    """The augmentation of the training stream, with the photographs of --backgrounds loaded; new backgrounds are
    left out, with a note, on data without coverage masks."""
    aug = cfg.augmentation
    if aug.masks and not has_masks(manifest):
        print(f"note: --background {cfg.background} needs the renders' coverage masks, which format-"
              f"{manifest['format_version']} data lacks: training without new backgrounds "
              "(convert the meshes again for format 3)")
        return dataclasses.replace(aug, background=0.0)
    if aug.masks and cfg.backgrounds:
        return dataclasses.replace(aug, photos=load_photos(cfg.backgrounds))
    return aug


def start_problem(document: object) -> str | None:
    """What makes a document other than the start.json `fit` writes, or None."""
    return key_problem("", document, {key: dict for key in ("image_to_voxel", "voxel_to_image", "image_to_image",
                                                            "modality_gap")}, START)


def starting_metrics(cfg: FitConfig, model: XModal, data: str, manifest: dict, run: Path) -> dict | None:
    """The test-split metrics of the weights the run starts from (None when the split is too small to rank):
    measured once before the first step (they choose nothing), read back from START on --resume."""
    path = run / START
    if cfg.resume:
        return (read_json_document(path, "", start_problem, "the starting metrics xmodal.fit writes")
                if path.is_file() else None)
    if object_count(manifest, "test") < 2:
        return None
    with reading(data):
        metrics = embedder(model, data, manifest, None, cfg.mirror_average, split="test")()
    write_json_atomic(path, metrics)
    return metrics


def spread_of(model: XModal, batch: dict) -> Callable[[], float]:
    """A function giving the smaller spread (xmodal.evaluation.metrics.spread) of the voxel and of the image embeddings of
    `batch` under the model's current weights."""
    voxels = batch["voxels"]  # (P, R, R, R)
    pictures = batch["images"] if "images" in batch else batch["positive"]  # (P, K, S, S, C) or (B, S, S, C)
    images = tf.reshape(pictures, [-1, *pictures.shape[-3:]])[..., :3]  # (N, S, S, 3)
    return lambda: min(spread(model.voxel_encoder(voxels, training=False).numpy()),
                       spread(model.image_encoder(images, training=False).numpy()))


def starting_model(cfg: FitConfig, strategy: tf.distribute.Strategy, run: Path, chief: bool,
                   categories: Callable[[], set[str]]) -> tuple[XModal, tf.train.CheckpointManager,
                                                                tf.train.CheckpointManager]:
    """(model, its checkpoints, its best validated weights): built in the strategy's scope, resumed or initialised
    (from the shipped encoders of the training data's `categories()`, by default)."""
    with strategy.scope():
        model = compiled_model(cfg)
        checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
        manager = tf.train.CheckpointManager(checkpoint, str(run / "checkpoints"), max_to_keep=3)
        if cfg.resume:  # every worker reads the chief's checkpoints
            resume(cfg, checkpoint, model.optimizer, chief)
        elif source := init_source(cfg.init, cfg.preset, categories):
            warm_start(model.voxel_encoder, model.image_encoder, source, stored_model)
        best = tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(run / "best"), max_to_keep=1)
    return model, manager, best


def run_callbacks(cfg: FitConfig, model: XModal, strategy: tf.distribute.Strategy, data: str, manifest: dict,
                  run: Path, held_out: tuple[str, ...], best: tf.train.CheckpointManager) -> list:
    """TensorBoard summaries with a test batch (when the test split allows one), then validation (when held out)."""
    callbacks = []
    unit = "triplets" if cfg.batch_kind == "triplets" else "objects"
    test_size = min(objects_per_batch(cfg), object_count(manifest, "test"))
    summaries = None
    if test_size >= 2:
        test = batches(cfg, data, "test", test_size, Stream(cfg.seed + 1, 0, cfg.shuffle_buffer))
        summaries = Summaries(str(run / "logs"), test_loss(cfg, model, strategy, test), objects_per_batch(cfg),
                              cfg.test_every, unit)
        callbacks.append(summaries)
    if not sys.stdout.isatty():  # a log file: plain lines instead of a progress bar
        start = int(model.optimizer.iterations.numpy())
        callbacks.append(Progress(cfg.steps, max(1, (cfg.steps - start) // PROGRESS_LINES), PROGRESS_SECONDS,
                                  objects_per_batch(cfg), unit, lambda: summaries and summaries.last_test))
    if held_out:
        start = int(model.optimizer.iterations.numpy())
        validate_now = embedder(model, data, manifest, held_out, cfg.mirror_average, cfg.perturbed_validation)
        callbacks.append(Validation(run, validate_now, cfg.eval_every, cfg.patience, read_history(run, start), best,
                                    criterion(cfg.perturbed_validation)))
        print(f"validating on {len(held_out)} training objects held out by the seed, every {cfg.eval_every} steps")
        if note := few_objects_note(len(held_out)):
            print(note)
    return callbacks


def train_steps(cfg: FitConfig, model: XModal, strategy: tf.distribute.Strategy, data: str, train: tf.data.Dataset,
                callbacks: list, start: int) -> dict:
    """Train from step `start` to cfg.steps (or an earlier stop); the Keras history."""
    if start >= cfg.steps:
        return {}
    print(f"training {cfg.preset} with {cfg.loss} on {cfg.batch_kind} batches of {data}: steps {start}..{cfg.steps}, "
          f"{strategy.num_replicas_in_sync} replica(s), learning rate {peak_rate(cfg):g}, precision {cfg.precision}, "
          f"jit {cfg.jit}")
    with reading(data):  # a corrupted record in a training or test batch: one line naming the shard
        if cfg.strategy == "multi_worker":
            return custom_fit(model, strategy, train, cfg.steps - start, callbacks, sys.stdout.isatty())
        return model.fit(train, epochs=1, steps_per_epoch=cfg.steps - start, callbacks=callbacks, shuffle=False,
                         verbose="auto" if sys.stdout.isatty() else 0).history


def checkpoint_dir(cfg: FitConfig) -> str:
    """The run's checkpoint directory, which every worker reads."""
    return str(Path(cfg.run_dir) / "checkpoints")


def resume(cfg: FitConfig, checkpoint: tf.train.Checkpoint, optimizer: keras.optimizers.Optimizer, chief: bool) -> None:
    """Restore the newest checkpoint with a finite loss and finite weights; the chief forgets any later one and
    removes the half-written checkpoint folders a failed save left (a full disk, a kill)."""
    if chief:
        for folder in (checkpoint_dir(cfg), str(Path(cfg.run_dir) / "best")):
            for left in remove_temporaries(folder):
                print(f"removed {left}: a checkpoint a failed save left half-written")
    found = resumable(checkpoint_dir(cfg))
    if found is None:
        raise UserError(f"--resume: {checkpoint_dir(cfg)} holds no checkpoint with a recorded finite loss and finite "
                        "weights; start again with another --out")
    path, entry = found
    restore(checkpoint, path, optimizer)
    if chief:
        forget_from(checkpoint_dir(cfg), entry["step"] + 1)
    print(f"resuming from {path} (step {entry['step']}, training loss {entry['loss']:.4g})")


def test_loss(cfg: FitConfig, model: XModal, strategy: tf.distribute.Strategy, test: tf.data.Dataset):
    """A function giving the loss of the next test mini-batch."""
    if cfg.strategy == "multi_worker":
        return test_loss_function(model, strategy, test)
    batches_left = iter(test)
    return lambda: float(model.test_on_batch(next(batches_left), return_dict=True)["loss"])


def objects_per_batch(cfg: FitConfig) -> int:
    """Objects in one global batch: B triplets or P objects."""
    return cfg.batch_size if cfg.batch_kind == "triplets" else cfg.objects_per_batch


def batches(cfg: FitConfig, data: str, split: str, objects: int, how: Stream) -> tf.data.Dataset:
    """The input stream of the run's batch kind."""
    p = preset(cfg.preset)
    if cfg.batch_kind == "triplets":
        stream = triplets(data, split, objects, p.voxel_res, p.image_size, how)
    else:
        stream = object_views(data, split, objects, cfg.views_per_object, p.voxel_res, p.image_size, how)
    options = tf.data.Options()  # workers split each global batch, rather than reading different files
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return stream.with_options(options)


def report(export: str, data: str, run: Path, manifest: dict, exported: dict, start: dict | None) -> dict:
    """Evaluate the export on the test split (printed beside the `start` metrics of the starting weights, and saved
    as metrics.json) and write the projector files."""
    print(f"exported the weights of step {exported['step']}"
          + (f" ({exported['criterion']} on validation: {exported['score']:.3f})" if exported.get("score") is not None
             else ""))
    if object_count(manifest, "test") < 2:
        print("test split has fewer than 2 objects: no evaluation")
        return {}
    exports = load_embedder(export)
    metrics = {**evaluate(exports, data, "test"), "exported": exported, **({"start": start} if start else {})}
    print(f"test split retrieval (export {export}):\n{table(metrics, start)}")
    write_json_atomic(run / "metrics.json", metrics)
    write_projector(str(run / "logs"), gather(exports, data, "test", PROJECTOR_OBJECTS))
    return metrics



def main() -> None:
    """CLI entry point."""
    fit(parse_config())


if __name__ == "__main__":
    run_cli(main)
