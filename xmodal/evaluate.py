"""`python -m xmodal.evaluate`: cross-modal retrieval metrics and the modality gap of an export on a split;
with --perturb, retrieval with every query image perturbed like a photograph (xmodal.augmentation.perturb) beside clean."""
import argparse
from pathlib import Path

from tfrecords_tools.errors import add_verbose_flag, run_cli
from tfrecords_tools.flags import file_output
from tfrecords_tools.dataset.manifest import write_json_atomic
from xmodal.serving.embedder import Embedder, embed_split, load_embedder
from xmodal.augmentation.backgrounds import load_photos, shipped_photos
from xmodal.evaluation.metrics import evaluate_embeddings, table
from xmodal.evaluation.robustness import robustness, robustness_table
from xmodal.serving.versions import MODEL_HELP


def evaluate(embedder: Embedder, data: str, split: str = "test") -> dict:
    """Embed a split and compute image->voxel, voxel->image, image->image retrieval and the modality gap."""
    e = embed_split(embedder, data, split)
    return evaluate_embeddings(e.voxels, e.object_ids, e.images, e.object_ids[e.image_objects])


def main() -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(prog="python -m xmodal.evaluate", description=__doc__)
    parser.add_argument("--model", required=True, help=MODEL_HELP)
    parser.add_argument("--data", required=True, help="converted dataset")
    parser.add_argument("--split", default="test", help="split to evaluate (default test)")
    parser.add_argument("--out", help="write the metrics as JSON into this file (its folder is made if missing)")
    parser.add_argument("--perturb", action="store_true",
                        help="the robustness benchmark: Recall@1/@5 with the query images shifted, zoomed, turned, "
                             "put on other backgrounds, JPEG-compressed, blurred, noised and recoloured")
    parser.add_argument("--backgrounds", help="with --perturb: a folder of photographs for the photo backgrounds "
                                              "(default: the three photographs scikit-learn and matplotlib ship)")
    parser.add_argument("--seed", type=int, default=0, help="with --perturb: seed of the perturbations (default 0)")
    add_verbose_flag(parser)
    args = parser.parse_args()
    if args.out:
        file_output(args.out, "--out")
    embedder = load_embedder(args.model)
    if args.perturb:
        photos = load_photos(args.backgrounds) if args.backgrounds else shipped_photos()
        metrics = robustness(embedder, args.data, args.split, args.seed, photos)
        print(robustness_table(metrics))
    else:
        metrics = evaluate(embedder, args.data, args.split)
        print(table(metrics))
    if args.out:
        write_json_atomic(Path(args.out), metrics)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    run_cli(main)
