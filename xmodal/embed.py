"""`python -m xmodal.embed`: TensorBoard projector files (and optionally a t-SNE picture) of test images and
voxels."""
import argparse

from tfrecords_tools.errors import add_verbose_flag, run_cli
from tfrecords_tools.flags import folder_output, picture_output, positive_int
from tfrecords_tools.dataset.validate import check_dataset
from xmodal.serving.embedder import load_embedder
from xmodal.evaluation.projector import gather, tsne_writes, write_projector, write_tsne
from xmodal.serving.versions import MODEL_HELP


def main() -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(prog="python -m xmodal.embed", description=__doc__)
    parser.add_argument("--model", required=True, help=MODEL_HELP)
    parser.add_argument("--data", required=True, help="converted dataset")
    parser.add_argument("--logdir", required=True, help="TensorBoard log directory to write the projector files into "
                                                        "(made if missing)")
    parser.add_argument("--objects", type=positive_int, default=10, help="number of test objects (default 10)")
    parser.add_argument("--split", default="test", help="split to draw objects from (default test)")
    parser.add_argument("--tsne", help="also write a t-SNE picture to this file, in the format of its suffix: .png, "
                                       ".jpg, .pdf, .svg, ... (its folder is made if missing)")
    add_verbose_flag(parser)
    args = parser.parse_args()
    folder_output(args.logdir, "--logdir")
    if args.tsne:
        picture_output(args.tsne, "--tsne", tsne_writes)
    embedder = load_embedder(args.model)
    check_dataset(args.data, embedder.voxel_res, embedder.image_size)
    gathered = gather(embedder, args.data, args.split, args.objects)
    write_projector(args.logdir, gathered)
    print(f"projector: tensorboard --logdir {args.logdir} ({len(gathered['vectors'])} points)")
    if args.tsne:
        write_tsne(args.tsne, gathered)
        print(f"wrote {args.tsne}")


if __name__ == "__main__":
    run_cli(main)
