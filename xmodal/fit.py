"""`python -m xmodal.fit`: train both encoders with equation (1) under a tf.distribute strategy.

With no --data it trains the `small` preset on the built-in synthetic cars (made once and
cached). The run directory holds config.json, TensorBoard logs (logs/train, logs/test) and
checkpoints; --resume continues from the last checkpoint with the same step and optimizer state.
"""
import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path

import keras
import tensorflow as tf

from tfrecords_tools.errors import UserError, run_cli
from tfrecords_tools.lock import output_lock
from tfrecords_tools.manifest import object_count, read_manifest, shard_paths, write_json_atomic
from xmodal.builtin_data import builtin_dataset
from xmodal.callbacks import Checkpoints, Summaries
from xmodal.config import BATCHES, PRECISIONS, STRATEGIES, FitConfig
from xmodal.data import check_resolution, object_views, triplets
from xmodal.embedder import load_embedder
from xmodal.evaluate import evaluate
from xmodal.export import write_export
from xmodal.loop import custom_fit, test_loss_function
from xmodal.losses import LOSSES
from xmodal.metrics import table
from xmodal.models import PRESETS, XModal, build_encoders, preset
from xmodal.optimizers import FusedAdam
from xmodal.projector import gather, write_projector
from xmodal.versions import check_export_base

PROJECTOR_OBJECTS = 10
RESUMABLE_CHANGES = ("steps", "resume", "export", "out")  # settings a resumed run may change


def parse_config(argv: list[str] | None = None) -> FitConfig:
    """Flags -> FitConfig."""
    defaults = FitConfig()
    parser = argparse.ArgumentParser(prog="python -m xmodal.fit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="", help="converted dataset (default: the built-in synthetic cars)")
    parser.add_argument("--preset", default=defaults.preset, help=f"architecture: {', '.join(sorted(PRESETS))}")
    parser.add_argument("--steps", type=int, default=defaults.steps, help="total training steps")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, help="triplets per global batch")
    parser.add_argument("--out", default="", help="run directory (default runs/<preset>)")
    parser.add_argument("--export", default="", help="export folder, each run adding a numbered version "
                        "(default saved_models/<run name>)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of weights and data order")
    parser.add_argument("--resume", action="store_true", help="continue from the run directory's last checkpoint")
    parser.add_argument("--loss", default=defaults.loss, choices=sorted(LOSSES), help=f"loss (default {defaults.loss})")
    parser.add_argument("--batches", default="", choices=("",) + BATCHES,
                        help="triplets (the report's) or objects (P x K); default: triplets for --loss triplet, else objects")
    parser.add_argument("--objects-per-batch", type=int, default=defaults.objects_per_batch, help="P of P x K batches")
    parser.add_argument("--views-per-object", type=int, default=defaults.views_per_object, help="K of P x K batches")
    parser.add_argument("--margin", type=float, default=defaults.margin, help="margin of the triplet-style losses")
    parser.add_argument("--temperature", type=float, default=defaults.temperature, help="temperature of info_nce")
    parser.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None,
                        help="L2-normalise the embeddings (default: only with --loss info_nce)")
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate, help="Adam learning rate")
    parser.add_argument("--voxel-channels", type=int, choices=(1, 2), default=defaults.voxel_channels,
                        help="2: one-hot (empty, filled) as Table 1; 1: occupancy")
    parser.add_argument("--precision", choices=PRECISIONS, default=defaults.precision, help="Keras dtype policy")
    parser.add_argument("--strategy", choices=STRATEGIES, default=defaults.strategy,
                        help="mirrored: the local GPUs or the CPU; multi_worker: a cluster described by TF_CONFIG")
    parser.add_argument("--jit", action="store_true", help="compile the train step with XLA (one replica only)")
    parser.add_argument("--checkpoint-every", type=int, default=defaults.checkpoint_every, help="steps between checkpoints")
    parser.add_argument("--test-every", type=int, default=defaults.test_every, help="steps between test-batch losses")
    args = parser.parse_args(argv)
    return FitConfig(**{k: v for k, v in vars(args).items()})


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
    if cfg.steps < 1 or cfg.checkpoint_every < 1 or cfg.test_every < 1:
        raise UserError("--steps, --checkpoint-every and --test-every must be positive")


def check_shards(data: str, manifest: dict) -> None:
    """A UserError naming any shard that is missing or not the size the manifest records."""
    for split in manifest["splits"]:
        for path, shard in zip(shard_paths(data, manifest, split), manifest["splits"][split]["shards"]):
            if not path.is_file() or path.stat().st_size != shard["bytes"]:
                raise UserError(f"shard {path} is missing or truncated (manifest: {shard['bytes']} bytes); "
                                f"run `python -m tfrecords_tools inspect {data}`")


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
        return tf.distribute.MirroredStrategy()
    if len(gpus) > 1:
        raise UserError("--jit does not work with MirroredStrategy over several GPUs in Keras 3.15 "
                        "(keras#21366): drop --jit or expose one GPU (CUDA_VISIBLE_DEVICES)")
    return tf.distribute.get_strategy()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run: the chief, worker 0 of a cluster without one, or a lone process."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief)


def prepare_run(cfg: FitConfig, data: str) -> Path:
    """Create or check the run directory and write config.json."""
    run = Path(cfg.run_dir)
    stored = run / "config.json"
    has_checkpoint = tf.train.latest_checkpoint(str(run / "checkpoints")) is not None
    if cfg.resume and not has_checkpoint:
        raise UserError(f"--resume: {run} holds no checkpoint to resume from")
    if has_checkpoint and not cfg.resume:
        raise UserError(f"{run} already holds a run: pass --resume to continue it, or choose another --out")
    record = {**dataclasses.asdict(cfg), "data": data}
    if cfg.resume and stored.is_file():
        before = json.loads(stored.read_text())
        changed = [k for k in record if k not in RESUMABLE_CHANGES and before.get(k) != record[k]]
        if changed:
            raise UserError(f"--resume with other settings than the stored run: {', '.join(changed)}")
    run.mkdir(parents=True, exist_ok=True)
    write_json_atomic(stored, record)
    return run


def compiled_model(cfg: FitConfig) -> XModal:
    """The training model of `cfg` with its optimizer built; call it inside the strategy's scope."""
    voxels, images = build_encoders(cfg.preset, cfg.voxel_channels, cfg.normalized)
    model = XModal(voxels, images, cfg.loss, cfg.margin, cfg.temperature)
    model.compile(optimizer=FusedAdam(cfg.learning_rate), jit_compile=cfg.jit)
    model.optimizer.build(model.trainable_variables)
    return model


def fit(cfg: FitConfig) -> dict:
    """Train, export a new version, and return {run, export (the version's path), train_loss, steps}."""
    validate(cfg)
    strategy = strategy_for(cfg)  # first: a multi-worker strategy must exist before other TensorFlow work
    chief = is_chief(strategy)
    p = preset(cfg.preset)
    data = cfg.data or builtin_dataset(cfg.synth_objects, p.voxel_res, p.image_size)
    manifest = read_manifest(data)
    check_resolution(manifest, data, p.voxel_res, p.image_size)
    check_shards(data, manifest)
    if chief:
        check_export_base(cfg.export_dir, cfg.run_dir)
    with output_lock(cfg.run_dir) if chief else contextlib.nullcontext():  # one run at a time per run directory
        return train_and_export(cfg, strategy, chief, data, manifest)


def train_and_export(cfg: FitConfig, strategy: tf.distribute.Strategy, chief: bool, data: str, manifest: dict) -> dict:
    """The body of fit() once its inputs are checked (and the run directory locked, on the chief)."""
    run = prepare_run(cfg, data) if chief else Path(tempfile.mkdtemp(prefix="xmodal-worker-"))

    keras.mixed_precision.set_dtype_policy(cfg.precision)
    keras.utils.set_random_seed(cfg.seed)
    with strategy.scope():
        model = compiled_model(cfg)
        checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
        manager = tf.train.CheckpointManager(checkpoint, str(run / "checkpoints"), max_to_keep=3)
        if cfg.resume:  # every worker reads the chief's checkpoints
            latest = tf.train.latest_checkpoint(str(Path(cfg.run_dir) / "checkpoints"))
            checkpoint.restore(latest).assert_existing_objects_matched()
    start = int(model.optimizer.iterations.numpy())
    train = batches(cfg, data, "train", objects_per_batch(cfg), cfg.seed, start)
    test_size = min(objects_per_batch(cfg), object_count(manifest, "test"))
    callbacks = [Checkpoints(manager, cfg.checkpoint_every)]
    if test_size >= 2:
        test = batches(cfg, data, "test", test_size, cfg.seed + 1, 0)
        callbacks.insert(0, Summaries(str(run / "logs"), test_loss(cfg, model, strategy, test), objects_per_batch(cfg),
                                      cfg.test_every, "triplets" if cfg.batch_kind == "triplets" else "objects"))
    history = {}
    if start < cfg.steps:
        print(f"training {cfg.preset} with {cfg.loss} on {cfg.batch_kind} batches of {data}: steps {start}..{cfg.steps}, "
              f"{strategy.num_replicas_in_sync} replica(s), precision {cfg.precision}, jit {cfg.jit}")
        if cfg.strategy == "multi_worker":
            history = custom_fit(model, strategy, train, cfg.steps - start, callbacks)
        else:
            history = model.fit(train, epochs=1, steps_per_epoch=cfg.steps - start, callbacks=callbacks,
                                shuffle=False).history
    diverged = callbacks[-1].diverged_at
    if diverged is not None:
        raise UserError(f"the loss became non-finite at step {diverged}; the last good checkpoint is "
                        f"{manager.latest_checkpoint} (lower --learning-rate, then --resume)")
    steps = int(model.optimizer.iterations.numpy())
    if not chief:  # other workers wrote checkpoints and logs to a scratch folder only
        shutil.rmtree(run, ignore_errors=True)
        return {"run": None, "export": None, "steps": steps, "train_loss": history.get("loss", [None])[-1]}
    export = write_export(model.voxel_encoder, model.image_encoder, cfg.export_dir, manifest["views"])
    metrics = report(export, data, run, manifest)
    print(f"TensorBoard logs and projector: tensorboard --logdir {run / 'logs'}\nexported model: {export}")
    return {"run": str(run), "export": export, "steps": steps,
            "train_loss": history.get("loss", [None])[-1], "metrics": metrics}


def test_loss(cfg: FitConfig, model: XModal, strategy: tf.distribute.Strategy, test: tf.data.Dataset):
    """A function giving the loss of the next test mini-batch."""
    if cfg.strategy == "multi_worker":
        return test_loss_function(model, strategy, test)
    batches_left = iter(test)
    return lambda: float(model.test_on_batch(next(batches_left), return_dict=True)["loss"])


def objects_per_batch(cfg: FitConfig) -> int:
    """Objects in one global batch: B triplets or P objects."""
    return cfg.batch_size if cfg.batch_kind == "triplets" else cfg.objects_per_batch


def batches(cfg: FitConfig, data: str, split: str, objects: int, seed: int, start: int) -> tf.data.Dataset:
    """The input stream of the run's batch kind."""
    p = preset(cfg.preset)
    if cfg.batch_kind == "triplets":
        stream = triplets(data, split, objects, p.voxel_res, p.image_size, seed, start, cfg.shuffle_buffer)
    else:
        stream = object_views(data, split, objects, cfg.views_per_object, p.voxel_res, p.image_size, seed, start,
                              cfg.shuffle_buffer)
    options = tf.data.Options()  # workers split each global batch, rather than reading different files
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return stream.with_options(options)


def report(export: str, data: str, run: Path, manifest: dict) -> dict:
    """Evaluate the export on the test split (printed, and saved as metrics.json) and write the projector files."""
    if object_count(manifest, "test") < 2:
        print("test split has fewer than 2 objects: no evaluation")
        return {}
    embedder = load_embedder(export)
    metrics = evaluate(embedder, data, "test")
    print(f"test split retrieval (export {export}):\n{table(metrics)}")
    write_json_atomic(run / "metrics.json", metrics)
    write_projector(str(run / "logs"), gather(embedder, data, "test", PROJECTOR_OBJECTS))
    return metrics



def main() -> None:
    """CLI entry point."""
    fit(parse_config())


if __name__ == "__main__":
    run_cli(main)
