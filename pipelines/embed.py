"""`python -m pipelines.embed`: embedding shards of a converted dataset, made by an Apache Beam pipeline.

Reads the shard files of the chosen splits of DATA (all by default), embeds every object's voxels
with the export's `embed_voxels` signature (RunInference, batched, one model per worker), draws its
two thumbnails, and writes one tf.train.Example per object into SHARDS:

    SHARDS/embeddings-00000-of-00004.tfrecord   object_id, category, split, embedding, render, voxel_picture
    SHARDS/embeddings.json                      written last: the export, the dataset, its splits, every
                                                shard with its object count and SHA-256

Index them with `python -m xmodal.index build --model EXPORT --embeddings SHARDS --out INDEX`.
The entries are those `xmodal.index build --data DATA` makes (the same functions of
xmodal.search.entries). Beam's pipeline options choose where it runs (`--runner DirectRunner`
here; DataflowRunner, FlinkRunner or SparkRunner at scale: only these options change, see
docs/scale.md).
"""
import argparse
import contextlib
import dataclasses
import logging
import math
import re
import shutil
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from tfrecords_tools.errors import import_tensorflow_quietly

import_tensorflow_quietly()  # before Beam, which imports TensorFlow too
logging.disable(logging.WARNING)  # Beam's import warns about Google Cloud clients we do not use
import apache_beam as beam  # noqa: E402
from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, PredictionResult, RunInference  # noqa: E402
from apache_beam.options.pipeline_options import PipelineOptions  # noqa: E402

logging.disable(logging.NOTSET)
# Beam 2.77 imports `resource` in one try with its torch-only ModelManager, so without torch RunInference warns
# "Resource module is not available" at every model load: it only means that no memory figure is reported.
logging.getLogger().addFilter(lambda record: not record.getMessage().startswith("Resource module is not available"))

from tfrecords_tools.errors import UserError, first_few, run_cli  # noqa: E402
from tfrecords_tools.dataset.lock import LOCK, output_lock  # noqa: E402
from tfrecords_tools.dataset.manifest import object_count, shard_paths, write_json_atomic  # noqa: E402
from tfrecords_tools.dataset.shards import sha256  # noqa: E402
from tfrecords_tools.dataset.validate import check_dataset, record_count, unreadable_shard  # noqa: E402
from xmodal.serving.embedder import BATCH, Embedder, load_embedder  # noqa: E402
from xmodal.search.entries import Decoded, dataset_splits, decoded, entries_of, voxel_embeddings  # noqa: E402
from xmodal.search.provenance import export_identity  # noqa: E402
from xmodal.search.shards import DESCRIPTION, PREFIX, entry_example  # noqa: E402
from xmodal.serving.versions import MODEL_HELP, resolve_model  # noqa: E402

OBJECTS_PER_SHARD = 5000  # default shard size: two 96^2 PNGs and 128 floats an object, 5-20 kB: 25-100 MB a shard
SHARD = re.compile(rf"{PREFIX}-\d{{5,}}-of-\d{{5,}}\.tfrecord")  # WriteToTFRecord's -SSSSS-of-NNNNN files
OURS = re.compile(rf"{SHARD.pattern}|beam-temp-{PREFIX}-[0-9a-f]+|"  # Beam's temporary folder while writing
                  rf"\.{Path(DESCRIPTION).stem}\.tmp-\d+{Path(DESCRIPTION).suffix}")  # write_json_atomic's


@dataclasses.dataclass(frozen=True)
class EmbedConfig:
    """One run of the pipeline."""

    model: str  # the export (a version folder, or a base: its newest version)
    data: str  # the converted dataset
    out: str  # the folder of embedding shards
    splits: tuple[str, ...] = ()  # empty: all splits of the dataset
    shards: int = 0  # output shards; 0: one per OBJECTS_PER_SHARD objects


class VoxelEmbedder(ModelHandler[Decoded, PredictionResult, Embedder]):
    """RunInference's handler of an export: a batch of decoded records -> their voxel embeddings (128,)."""

    def __init__(self, export: str) -> None:
        super().__init__(min_batch_size=1, max_batch_size=BATCH)  # BATCH grids of R^3 bytes at a time
        self.export = export  # the resolved version folder, the same for every worker

    def load_model(self) -> Embedder:
        """The export, loaded with tf.saved_model.load (its signatures checked)."""
        return load_embedder(self.export)

    def run_inference(self, batch: Sequence[Decoded], model: Embedder,
                      inference_args: dict | None = None) -> Iterable[PredictionResult]:
        """The batch's voxels stacked and embedded by `embed_voxels`: one PredictionResult per record."""
        vectors = voxel_embeddings(model, list(batch))  # (B, 128)
        return [PredictionResult(record, vector) for record, vector in zip(batch, vectors)]


def entry_record(split: str, result: PredictionResult) -> bytes:
    """The serialized embedding example of one embedded record (thumbnails drawn as in entries.embedded)."""
    return entry_example(entries_of([result.example], result.inference[None], split), 0)  # inference (1, 128)


def build(pipeline: beam.Pipeline, files: dict[str, list[str]], voxel_res: int, export: str, out: Path,
          shards: int) -> None:
    """Read the records of every split, embed them, write their examples into `shards` shard files."""
    keyed = [pipeline
             | f"{split}: files" >> beam.Create(paths)
             | f"{split}: read" >> beam.io.ReadAllFromTFRecord(coder=beam.coders.BytesCoder())
             | f"{split}: key" >> beam.WithKeys(split)
             for split, paths in files.items()]
    (keyed
     | "splits" >> beam.Flatten()
     | "spread" >> beam.Reshuffle()
     | "decode" >> beam.MapTuple(lambda split, record: (split, decoded(record, voxel_res)))
     | "embed" >> RunInference(KeyedModelHandler(VoxelEmbedder(export)))
     | "examples" >> beam.MapTuple(entry_record)
     | "write" >> beam.io.WriteToTFRecord(str(out / PREFIX), coder=beam.coders.BytesCoder(),
                                          file_name_suffix=".tfrecord", num_shards=shards,
                                          shard_name_template="-SSSSS-of-NNNNN"))


def check_new_folder(out: Path) -> None:
    """A UserError when `out` already holds embeddings, or files that this pipeline does not write."""
    if (out / DESCRIPTION).is_file():
        raise UserError(f"{out} already holds embeddings ({DESCRIPTION}): index them with `python -m xmodal.index "
                        f"build --embeddings {out}`, or embed into a new folder")
    foreign = sorted(p.name for p in out.iterdir() if p.name != LOCK and not OURS.fullmatch(p.name))
    if foreign:
        raise UserError(f"{out} holds other files ({first_few(foreign)}): embed into a new or empty folder")


def remove_leftovers(out: Path) -> None:
    """Remove what a killed run left (shards, Beam's temporary folders): never named by an embeddings.json."""
    for p in out.iterdir():
        if OURS.fullmatch(p.name) and p.is_dir():
            shutil.rmtree(p)
        elif OURS.fullmatch(p.name):
            p.unlink()


@contextlib.contextmanager
def corruption_named(data: str) -> Iterator[None]:
    """A pipeline that fails on a truncated or corrupted shard of `data` becomes a UserError naming it."""
    runner_log = logging.getLogger("apache_beam.runners.common")  # logs a failing step's traceback, records and all
    level = runner_log.level
    runner_log.setLevel(logging.CRITICAL)  # any other failure is raised again below, traceback and all
    try:
        yield
    except Exception:
        problem = unreadable_shard(data)
        if problem is None:
            raise
        raise UserError(f"{problem}: the shard is truncated or corrupted "
                        f"(`python -m tfrecords_tools inspect {data}` checks every shard)") from None
    finally:
        runner_log.setLevel(level)


def checked_inputs(cfg: EmbedConfig) -> tuple[dict, dict, list[str]]:
    """(export identity, the dataset's validated manifest, the splits to embed); a UserError on a bad input."""
    if cfg.shards < 0:
        raise UserError(f"--shards must be at least 1 (or 0: automatic), not {cfg.shards}")
    export = export_identity(str(resolve_model(cfg.model).resolve()))  # one version for every worker
    embedder = load_embedder(export["path"])  # checks its signatures here rather than in the workers
    manifest = check_dataset(cfg.data, embedder.voxel_res, embedder.image_size)
    return export, manifest, dataset_splits(cfg.data, cfg.splits)


def run(cfg: EmbedConfig, beam_args: list[str]) -> dict:
    """Run the pipeline, then write embeddings.json; return it. One run at a time per output folder."""
    export, manifest, splits = checked_inputs(cfg)
    with output_lock(cfg.out) as out:
        check_new_folder(out)
        remove_leftovers(out)
        total = sum(object_count(manifest, s) for s in splits)
        files = {s: [str(p) for p in shard_paths(cfg.data, manifest, s)] for s in splits}
        with corruption_named(cfg.data), beam.Pipeline(options=PipelineOptions(beam_args)) as pipeline:
            build(pipeline, files, manifest["voxel_res"], export["path"], out,
                  cfg.shards or max(1, math.ceil(total / OBJECTS_PER_SHARD)))
        description = {"export": export, "data": str(Path(cfg.data).resolve()), "splits": splits,
                       "shards": [{"file": p.name, "objects": record_count(p), "sha256": sha256(p)}
                                  for p in sorted(out.iterdir()) if SHARD.fullmatch(p.name)]}
        written = sum(s["objects"] for s in description["shards"])
        if written != total:
            raise RuntimeError(f"the pipeline wrote {written} embeddings of the {total} objects of {cfg.data}")
        write_json_atomic(out / DESCRIPTION, description)
    print(f"embedded {total} objects of {cfg.data} ({', '.join(splits)}) into {len(description['shards'])} shard(s) "
          f"in {cfg.out}\nnext: python -m xmodal.index build --model {cfg.model} --embeddings {cfg.out} --out INDEX")
    return description


def main() -> None:
    """Parse our flags and pass the rest to Beam."""
    parser = argparse.ArgumentParser(prog="python -m pipelines.embed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Other flags (--runner, --project, ...) go to Beam's PipelineOptions.")
    parser.add_argument("--model", required=True, metavar="EXPORT", help=MODEL_HELP)
    parser.add_argument("--data", required=True, metavar="DATA",
                        help="converted dataset (python -m tfrecords_tools convert)")
    parser.add_argument("--out", required=True, metavar="SHARDS",
                        help="new folder for the embedding shards and embeddings.json")
    parser.add_argument("--splits", default="", metavar="train,test",
                        help="comma-separated splits to embed (default: all)")
    parser.add_argument("--shards", type=int, default=0, metavar="N",
                        help=f"number of output shards (default: one per {OBJECTS_PER_SHARD} objects)")
    args, beam_args = parser.parse_known_args()
    run(EmbedConfig(args.model, args.data, args.out, tuple(s for s in args.splits.split(",") if s), args.shards),
        beam_args)


if __name__ == "__main__":
    run_cli(main)
