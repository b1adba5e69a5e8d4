"""`python -m pipelines.convert`: the conversion of `tfrecords_tools convert` as an Apache Beam pipeline.

Same flags as `python -m tfrecords_tools convert`, plus Beam's pipeline options (`--runner
DirectRunner` here; DataflowRunner, FlinkRunner or SparkRunner at scale: only these options
change, see docs/scale.md). The per-object work is `tfrecords_tools.meshes.objects.convert_object`,
the one the local converter runs, so both write the same examples for the same input and seed;
Beam decides which shard holds which example. The manifest is written once the shards exist, and the
output is then validated as every reader validates a dataset (tfrecords_tools/dataset/validate.py).
"""
import argparse
import dataclasses
import json
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tfrecords_tools.errors import import_tensorflow_quietly

import_tensorflow_quietly()  # before Beam, which imports TensorFlow too
logging.disable(logging.WARNING)  # Beam's import warns about Google Cloud clients we do not use
import apache_beam as beam  # noqa: E402

logging.disable(logging.NOTSET)
from apache_beam.options.pipeline_options import PipelineOptions

from tfrecords_tools.cli import add_convert_arguments, convert_config
from tfrecords_tools.config import ConvertConfig
from tfrecords_tools.convert import manifest_of, plan, prepared, report, require_objects, validate
from tfrecords_tools.errors import run_cli
from tfrecords_tools.dataset.lock import output_lock
from tfrecords_tools.dataset.manifest import MANIFEST, write_json_atomic
from tfrecords_tools.meshes.objects import ObjectRecord, Skipped, convert_object, grid_digest, warning_entries
from tfrecords_tools.dataset.records import encode_example
from tfrecords_tools.dataset.shards import sha256
from tfrecords_tools.dataset.validate import check_dataset, record_count
from tfrecords_tools.workers import children_without_tensorflow

LISTINGS = {"skipped": ".beam-skipped", "warnings": ".beam-warnings", "grids": ".beam-grids"}  # per split, JSON
# lines written by Beam (grids: [object id, digest of its voxel grid])


class ConvertObjects(beam.DoFn):
    """convert_object in a spawned child process (rendering must not share a process with TensorFlow)."""

    def setup(self) -> None:
        self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))

    def process(self, job: tuple):
        with children_without_tensorflow():
            future = self.pool.submit(convert_object, *job)
        yield future.result()

    def teardown(self) -> None:
        self.pool.shutdown()


def build(pipeline: beam.Pipeline, cfg: ConvertConfig, shards: dict[str, list]) -> None:
    """Per split: convert objects, write the records into the planned number of shards, and the skipped inputs."""
    out = Path(cfg.out)
    for split, items in shards.items():
        results = (pipeline
                   | f"{split}: objects" >> beam.Create([(source, cfg) for shard in items for source in shard])
                   | f"{split}: spread" >> beam.Reshuffle()
                   | f"{split}: convert" >> beam.ParDo(ConvertObjects()))
        (results
         | f"{split}: records" >> beam.Filter(lambda r: isinstance(r, ObjectRecord))
         | f"{split}: encode" >> beam.Map(encode_example)
         | f"{split}: write" >> beam.io.WriteToTFRecord(str(out / split), coder=beam.coders.BytesCoder(),
                                                        file_name_suffix=".tfrecord", num_shards=len(items),
                                                        shard_name_template="-SSSSS-of-NNNNN"))
        (results
         | f"{split}: skipped" >> beam.Filter(lambda r: isinstance(r, Skipped))
         | f"{split}: describe" >> beam.Map(lambda s: json.dumps(dataclasses.asdict(s)))
         | f"{split}: list skipped" >> beam.io.WriteToText(str(out / f"{LISTINGS['skipped']}-{split}"),
                                                           shard_name_template=""))
        (results
         | f"{split}: warnings" >> beam.FlatMap(lambda r: warning_entries(r) if isinstance(r, ObjectRecord) else [])
         | f"{split}: describe warnings" >> beam.Map(json.dumps)
         | f"{split}: list warnings" >> beam.io.WriteToText(str(out / f"{LISTINGS['warnings']}-{split}"),
                                                            shard_name_template=""))
        (results
         | f"{split}: grids" >> beam.FlatMap(lambda r: [[r.object_id, grid_digest(r)]] if isinstance(r, ObjectRecord)
                                             else [])
         | f"{split}: describe grids" >> beam.Map(json.dumps)
         | f"{split}: list grids" >> beam.io.WriteToText(str(out / f"{LISTINGS['grids']}-{split}"),
                                                         shard_name_template=""))


def run(cfg: ConvertConfig, beam_args: list[str]) -> dict:
    """Run the pipeline, then write manifest.json; return it. One run at a time per output folder."""
    validate(cfg)
    with output_lock(cfg.out):
        return run_locked(cfg, beam_args)


def run_locked(cfg: ConvertConfig, beam_args: list[str]) -> dict:
    """The body of run() while the output folder is locked."""
    cfg, sources, unusable = prepared(cfg)
    out = Path(cfg.out)
    shards = {split: [items for s, _, _, items in plan(cfg, sources) if s == split] for split in ("train", "test")}
    with beam.Pipeline(options=PipelineOptions(beam_args)) as pipeline:
        build(pipeline, cfg, shards)
    entries, listed = [], {kind: [] for kind in LISTINGS}
    for split in shards:
        for kind, prefix in LISTINGS.items():
            listing = out / f"{prefix}-{split}"
            listed[kind] += [json.loads(line) for line in listing.read_text().splitlines() if line]
            listing.unlink()
        for path in sorted(out.glob(f"{split}-*.tfrecord")):
            entries.append({"split": split, "file": path.name, "bytes": path.stat().st_size, "sha256": sha256(path),
                            "objects": record_count(path)})
    manifest = manifest_of(cfg, entries, unusable + listed["skipped"], listed["warnings"], dict(listed["grids"]))
    write_json_atomic(out / MANIFEST, manifest)
    check_dataset(cfg.out)
    print(report(out, manifest))
    return require_objects(out, manifest)


def main() -> None:
    """Parse our flags (those of `tfrecords_tools convert`) and pass the rest to Beam."""
    parser = argparse.ArgumentParser(prog="python -m pipelines.convert", description=__doc__,
                                     epilog="Other flags (--runner, --project, ...) go to Beam's PipelineOptions.")
    add_convert_arguments(parser)
    args, beam_args = parser.parse_known_args()
    run(convert_config(args), beam_args)


if __name__ == "__main__":
    run_cli(main)
