"""The command line of `python -m tfrecords_tools synth|convert|inspect`: flags map onto the config dataclasses."""
import argparse
from typing import Callable

from tfrecords_tools.config import AUTO_VIEWPOINTS, RENDER_FLAGS, VIEWPOINT_SETS, ConvertConfig, flag, viewpoint_file
from tfrecords_tools.errors import UserError, add_verbose_flag
from tfrecords_tools.flags import bounded, fraction, positive_float, positive_int, seed
from tfrecords_tools.meshes.load import UP_ROTATIONS
from tfrecords_tools.meshes.sources import FORMATS
from tfrecords_tools.synth.dataset import CATEGORIES, synth_dataset
from tfrecords_tools.workers import available_cores


def render_share(name: str) -> Callable[[str], float]:
    """The argparse `type=` of a render randomisation flag: a number from 0 to its largest value."""
    top = RENDER_FLAGS[name]
    return bounded(float, lambda v: 0 <= v <= top, f"must be from 0 to {top:g}")


RENDER_HELP = {  # ConvertConfig field: (metavar, what the flag randomises)
    "light_jitter": ("F", "the key light turned by up to F*90 degrees, its intensity and the ambient light scaled "
                          "by [1-F, 1+F], a fill light with probability F"),
    "fov_jitter": ("F", "the field of view scaled by [1-F, 1+F], F at most 0.8, and the framing distance with it"),
    "off_centre": ("F", "the object's centre moved by up to F of the half-frame in x and y"),
    "truncation": ("P", "with probability P, the camera moved in to 0.6-1 of the distance where the object's "
                        "bounding sphere meets the border, which may then cut the object"),
    "material_jitter": ("F", "colours scaled per channel by [1-F, 1+F], a specular highlight of strength up to F/2"),
}


def add_convert_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `convert` (also those of the Beam pipeline)."""
    parser.add_argument("--meshes", required=True, help="input folder, in the layout of --format")
    parser.add_argument("--out", required=True, help="output folder for shards and manifest.json")
    parser.add_argument("--format", choices=("auto", *FORMATS), default="auto",
                        help="input layout: synth (<id>/model.obj), shapenet (v1/v2), r2n2 (ShapeNetVox32 + "
                             "ShapeNetRendering), folder (any tree, class folders, ModelNet splits); "
                             "default auto: detected from the folder and printed")
    parser.add_argument("--synsets", nargs="*", default=(), help="shapenet/r2n2: only these synset ids")
    parser.add_argument("--voxel-res", type=positive_int, default=96, help="voxel grid resolution (default 96)")
    parser.add_argument("--image-size", type=positive_int, default=486, help="render size in pixels (default 486)")
    parser.add_argument("--views", type=positive_int, default=12, help="renders per object (default 12)")
    parser.add_argument("--workers", type=positive_int, default=available_cores(),
                        help="worker processes, at most the cores available (default: all of them)")
    parser.add_argument("--test-fraction", type=fraction, default=0.2, help="share of objects held out (default 0.2)")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the split, viewpoints and backgrounds")
    parser.add_argument("--viewpoints", type=viewpoint_file, default=AUTO_VIEWPOINTS,
                        help=f"camera viewpoints: {' or '.join(VIEWPOINT_SETS)} (shipped sets), or a file of "
                             "`azimuth elevation inplane distance` lines (default auto: cars when every object is "
                             "a car, else generic; printed)")
    parser.add_argument("--up", choices=tuple(UP_ROTATIONS), default="y",
                        help="the mesh files' up axis, turned to +y (default y; z for most scans and CAD files; "
                             "write --up=-z for a negative axis)")
    parser.add_argument("--background", choices=("random", "white"), default="random", help="image background")
    parser.add_argument("--category", default="", help="category name (default: metadata.json or 'object')")
    parser.add_argument("--shard-mb", type=positive_float, default=150.0, help="target shard size in MB (default 150)")
    for field, (metavar, text) in RENDER_HELP.items():
        parser.add_argument(flag(field), type=render_share(field), default=0.0, metavar=metavar,
                            help=f"per image: {text} (default 0)")
    add_verbose_flag(parser)


def parser() -> argparse.ArgumentParser:
    """The argument parser of all subcommands."""
    top = argparse.ArgumentParser(prog="python -m tfrecords_tools",
                                  description="Meshes -> solid voxels + renders -> sharded TFRecords (docs/format.md).")
    sub = top.add_subparsers(dest="command", required=True)

    synth = sub.add_parser("synth", help="write built-in synthetic meshes (cars; --categories for chairs, tables, aircraft, ...)")
    synth.add_argument("--out", required=True, help="folder to write <object_id>/model.obj into")
    synth.add_argument("--objects", type=positive_int, default=100, help="number of objects (default 100)")
    synth.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    synth.add_argument("--categories", default="car",
                       help=f"comma-separated categories, taken in turn (default car; any of {','.join(CATEGORIES)})")

    add_convert_arguments(sub.add_parser("convert", help="meshes -> voxels + renders -> sharded TFRecords + manifest.json"))

    inspect = sub.add_parser("inspect", help="verify shards against the manifest and summarise")
    inspect.add_argument("data", help="converted dataset folder")
    inspect.add_argument("--grid", help="also draw renders beside their voxels into this PNG")
    inspect.add_argument("--split", default="test", help="split drawn by --grid (default test)")
    inspect.add_argument("--objects", type=int, default=4, help="objects (rows) drawn by --grid (default 4)")
    add_verbose_flag(inspect)
    return top


def convert_config(args: argparse.Namespace) -> ConvertConfig:
    """The ConvertConfig of parsed `convert` flags."""
    fields = {k: v for k, v in vars(args).items() if k not in ("command", "verbose")}
    return ConvertConfig(**{**fields, "synsets": tuple(args.synsets)})


def main() -> None:
    """Parse flags and run one subcommand."""
    args = parser().parse_args()
    if args.command == "synth":
        synth_dataset(args.out, args.objects, args.seed, tuple(c.strip() for c in args.categories.split(",")))
        print(f"wrote {args.objects} meshes to {args.out}")
    elif args.command == "convert":
        from tfrecords_tools.convert import convert

        convert(convert_config(args))
    else:
        from tfrecords_tools.inspect import draw_grid, summary, verify

        if args.objects < 1:
            raise UserError("--objects must be at least 1")
        print(summary(verify(args.data)))
        print("all shards verified")
        if args.grid:
            draw_grid(args.data, args.grid, args.split, args.objects)

