"""Cross-modal retrieval metrics and the modality gap, in numpy, on (N, d) embeddings and labels."""
import math

import numpy as np

KS = (1, 5, 10)
TINY = 1e-12  # a norm below this is 0


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances (A, B) between the rows of a (A, d) and b (B, d)."""
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(squared, 0.0))


def average_precision(relevant: np.ndarray) -> np.ndarray:
    """AP (Q,) of ranked boolean relevance rows (Q, G)."""
    hits = np.cumsum(relevant, axis=1)
    precision = hits / np.arange(1, relevant.shape[1] + 1)
    return (precision * relevant).sum(1) / np.maximum(relevant.sum(1), 1)


def chance_recall(gallery: int, relevant: int, k: int) -> float:
    """Recall@k of a random ranking: the chance that k items drawn from `gallery` include one of `relevant`."""
    k = min(k, gallery)
    return 1.0 - math.comb(gallery - relevant, k) / math.comb(gallery, k)


def retrieval(queries: np.ndarray, query_labels: np.ndarray, gallery: np.ndarray, gallery_labels: np.ndarray,
              same_set: bool = False) -> dict:
    """Recall@1/5/10 (a hit is any relevant item in the top k), mAP, and the Recall@k of a random ranking
    (chance_recall@k); same_set leaves each query out of its gallery."""
    distances = pairwise_distances(queries, gallery)  # (Q, G)
    if same_set:
        np.fill_diagonal(distances, np.inf)
    order = np.argsort(distances, axis=1, kind="stable")
    if same_set:
        order = order[:, :-1]  # the query itself, ranked last
    relevant = gallery_labels[order] == query_labels[:, None]  # (Q, G)
    result = {f"recall@{k}": float(relevant[:, :k].any(1).mean()) for k in KS}
    result["map"] = float(average_precision(relevant).mean())
    counts = relevant.sum(1)  # (Q,) relevant items of each query
    for k in KS:
        result[f"chance_recall@{k}"] = float(np.mean([chance_recall(relevant.shape[1], int(c), k) for c in counts]))
    return result


def modality_gap(voxels: np.ndarray, voxel_labels: np.ndarray, images: np.ndarray, image_labels: np.ndarray) -> dict:
    """Per object: mean distance voxel -> own images over mean distance own images -> other objects' images (1.0 when
    the images of all objects embed to one point, as collapsed embeddings do: 0 / 0 is no figure)."""
    to_images = pairwise_distances(voxels, images)  # (N, M)
    between = pairwise_distances(images, images)  # (M, M)
    ratios = []
    for row, label in enumerate(voxel_labels):
        own = image_labels == label
        other = between[np.ix_(own, ~own)].mean()
        ratios.append(to_images[row, own].mean() / other if other > 0 else 1.0)
    return {"mean": float(np.mean(ratios)), "median": float(np.median(ratios)),
            "centroid_distance": float(np.linalg.norm(voxels.mean(0) - images.mean(0)))}


def spread(embeddings: np.ndarray) -> float:
    """How far (N, d) embeddings lie apart: their mean distance from their centroid over their mean norm (about 1 for
    healthy unit embeddings; 0 when every input embeds to the same point, a collapse)."""
    distance = np.linalg.norm(embeddings - embeddings.mean(0), axis=1).mean()
    return float(distance / max(float(np.linalg.norm(embeddings, axis=1).mean()), TINY))


def evaluate_embeddings(voxels: np.ndarray, voxel_labels: np.ndarray, images: np.ndarray, image_labels: np.ndarray) -> dict:
    """All metrics of `xmodal.evaluate`, keyed as its JSON output."""
    return {
        "image_to_voxel": retrieval(images, image_labels, voxels, voxel_labels),
        "voxel_to_image": retrieval(voxels, voxel_labels, images, image_labels),
        "image_to_image": retrieval(images, image_labels, images, image_labels, same_set=True),
        "modality_gap": modality_gap(voxels, voxel_labels, images, image_labels),
        "n_objects": int(len(voxels)),
        "n_images": int(len(images)),
    }


def table(metrics: dict, start: dict | None = None) -> str:
    """The metrics as a small text table; with `start` (the same metrics of the starting weights), those beside them."""
    columns = ("recall@1", "recall@5", "recall@10", "map")
    head = f"{'':16}{'R@1':>8}{'R@5':>8}{'R@10':>8}{'mAP':>8}"
    lines = [f"{'':16}{'exported':>32}{'starting weights':>34}", f"{head}  {head[16:]}"] if start else [head]
    for key in ("image_to_voxel", "voxel_to_image", "image_to_image"):
        m = metrics[key]
        beside = f"  {''.join(f'{start[key][k]:8.3f}' for k in columns)}" if start else ""
        lines.append(f"{key:16}" + "".join(f"{m[k]:8.3f}" for k in columns) + beside)
        lines.append(f"{'  chance':16}" + "".join(f"{m[f'chance_recall@{k}']:8.3f}" for k in KS))
    gap = metrics["modality_gap"]
    lines.append(f"modality gap: mean {gap['mean']:.3f}, median {gap['median']:.3f} (1.0 = as far as another object), "
                 f"centroid distance {gap['centroid_distance']:.3f}; {metrics['n_objects']} objects, {metrics['n_images']} images")
    if start:
        lines.append(f"starting weights: modality gap mean {start['modality_gap']['mean']:.3f}, "
                     f"median {start['modality_gap']['median']:.3f}")
    return "\n".join(lines)
