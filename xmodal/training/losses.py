"""Loss functions: each a pure function of embeddings and object-id labels.

Batch losses share one signature, `f(voxel_embeddings (N, d), voxel_labels (N,),
image_embeddings (M, d), image_labels (M,), **hyper) -> scalar`; `LOSSES` maps the names of
`xmodal.fit --loss` to them. Distances are Euclidean unless a loss says squared; the square
root is taken safely (zero gradient at zero distance) so identical embeddings give finite
gradients.
"""
import tensorflow as tf

BIG = 1e9  # stands in for +inf in masked minima and maxima


def squared_distance(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """Row-wise squared Euclidean distance (B,) of (B, d) embeddings."""
    return tf.reduce_sum(tf.square(x - y), axis=-1)


def pairwise_squared(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """Squared Euclidean distances (A, B) between the rows of x (A, d) and y (B, d)."""
    return tf.reduce_sum(tf.square(x[:, None, :] - y[None, :, :]), axis=-1)


def safe_sqrt(squared: tf.Tensor) -> tf.Tensor:
    """sqrt with a zero (not infinite) gradient where its argument is zero."""
    positive = squared > 0
    return tf.where(positive, tf.sqrt(tf.where(positive, squared, tf.ones_like(squared))), tf.zeros_like(squared))


def pairwise_distance(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """Euclidean distances (A, B), safe at zero."""
    return safe_sqrt(pairwise_squared(x, y))


def same_label(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """(A, B) bool: a[i] == b[j]."""
    return tf.equal(a[:, None], b[None, :])


def masked_mean(values: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Mean of values where mask holds (0 when it holds nowhere)."""
    mask = tf.cast(mask, values.dtype)
    return tf.reduce_sum(values * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


def triplet_hinge(anchor: tf.Tensor, positive: tf.Tensor, negative: tf.Tensor, margin: float = 1.0) -> tf.Tensor:
    """Per-triplet terms (B,) of equation (1): max(D(p, v)^2 - D(n, v)^2 + margin, 0)."""
    return tf.nn.relu(squared_distance(positive, anchor) - squared_distance(negative, anchor) + margin)


def triplet_loss(anchor: tf.Tensor, positive: tf.Tensor, negative: tf.Tensor, margin: float = 1.0) -> tf.Tensor:
    """Equation (1) of the report: the mean over the batch of the triplet hinge on squared distances."""
    return tf.reduce_mean(triplet_hinge(anchor, positive, negative, margin))


def anchored_triplets(anchors: tf.Tensor, anchor_labels: tf.Tensor, others: tf.Tensor, other_labels: tf.Tensor,
                      margin: float) -> tf.Tensor:
    """Equation (1) averaged over every (anchor, positive other, negative other) triplet of the batch."""
    d2 = pairwise_squared(anchors, others)  # (A, O)
    same = same_label(anchor_labels, other_labels)  # (A, O)
    hinge = tf.nn.relu(d2[:, :, None] - d2[:, None, :] + margin)  # (A, O positive, O negative)
    valid = same[:, :, None] & ~same[:, None, :]
    return masked_mean(hinge, valid)


def triplet(voxels: tf.Tensor, voxel_labels: tf.Tensor, images: tf.Tensor, image_labels: tf.Tensor,
            margin: float = 1.0, **_) -> tf.Tensor:
    """Equation (1) over every (voxel anchor, positive image, negative image) triplet of the batch."""
    return anchored_triplets(voxels, voxel_labels, images, image_labels, margin)


def symmetric_triplet(voxels: tf.Tensor, voxel_labels: tf.Tensor, images: tf.Tensor, image_labels: tf.Tensor,
                      margin: float = 1.0, **_) -> tf.Tensor:
    """`triplet` plus the image-anchored triplets (positive voxel, negative voxel)."""
    return (anchored_triplets(voxels, voxel_labels, images, image_labels, margin)
            + anchored_triplets(images, image_labels, voxels, voxel_labels, margin))


def batch_hard_direction(anchors: tf.Tensor, anchor_labels: tf.Tensor, others: tf.Tensor, other_labels: tf.Tensor,
                         margin: float) -> tf.Tensor:
    """Per anchor (A,): hinge of its farthest positive and nearest negative in the other modality."""
    d = pairwise_distance(anchors, others)  # (A, O)
    same = same_label(anchor_labels, other_labels)
    hardest_positive = tf.reduce_max(tf.where(same, d, -BIG), axis=1)
    hardest_negative = tf.reduce_min(tf.where(same, BIG, d), axis=1)
    usable = tf.reduce_any(same, axis=1) & tf.reduce_any(~same, axis=1)
    return tf.where(usable, tf.nn.relu(hardest_positive - hardest_negative + margin), 0.0)


def batch_hard_triplet_loss(voxels: tf.Tensor, voxel_labels: tf.Tensor, images: tf.Tensor, image_labels: tf.Tensor,
                            margin: float = 1.0, **_) -> tf.Tensor:
    """Batch-hard triplet loss (Hermans et al. 2017) over cross-modal pairs, anchors of both modalities."""
    return tf.reduce_mean(tf.concat([batch_hard_direction(voxels, voxel_labels, images, image_labels, margin),
                                     batch_hard_direction(images, image_labels, voxels, voxel_labels, margin)], 0))


def semi_hard_direction(anchors: tf.Tensor, anchor_labels: tf.Tensor, others: tf.Tensor, other_labels: tf.Tensor,
                        margin: float) -> tuple[tf.Tensor, tf.Tensor]:
    """(hinge (A, O), positive-pair mask (A, O)) with, per pair, the semi-hard negative of Schroff et al.

    The negative is the nearest one farther than the positive; where none is, the farthest negative.
    """
    d = pairwise_distance(anchors, others)  # (A, O)
    same = same_label(anchor_labels, other_labels)
    farther = ~same[:, None, :] & (d[:, None, :] > d[:, :, None])  # (A, O positive, O negative)
    nearest_farther = tf.reduce_min(tf.where(farther, d[:, None, :], BIG), axis=2)  # (A, O)
    farthest = tf.reduce_max(tf.where(same, -BIG, d), axis=1, keepdims=True)  # (A, 1)
    negative = tf.where(tf.reduce_any(farther, axis=2), nearest_farther, farthest)
    usable = same & tf.reduce_any(~same, axis=1, keepdims=True)
    return tf.nn.relu(d - negative + margin), usable


def semi_hard_triplet_loss(voxels: tf.Tensor, voxel_labels: tf.Tensor, images: tf.Tensor, image_labels: tf.Tensor,
                           margin: float = 1.0, **_) -> tf.Tensor:
    """Semi-hard triplet loss (Schroff et al. 2015) over every cross-modal positive pair, both directions."""
    a, mask_a = semi_hard_direction(voxels, voxel_labels, images, image_labels, margin)
    b, mask_b = semi_hard_direction(images, image_labels, voxels, voxel_labels, margin)
    values = tf.concat([tf.reshape(a, [-1]), tf.reshape(b, [-1])], 0)
    return masked_mean(values, tf.concat([tf.reshape(mask_a, [-1]), tf.reshape(mask_b, [-1])], 0))


def lifted_structured_loss(voxels: tf.Tensor, voxel_labels: tf.Tensor, images: tf.Tensor, image_labels: tf.Tensor,
                           margin: float = 1.0, **_) -> tf.Tensor:
    """Lifted structured loss, Song et al. 2016 eq. (4), over all embeddings of both modalities pooled.

    J = 1/(2|P|) sum_{(i,j) in P} max(0, log(sum_{k in N_i} exp(margin - D_ik) + sum_{l in N_j} exp(margin - D_jl)) + D_ij)^2
    with P the unordered positive pairs (same object id, either modality) and D Euclidean.
    """
    x = tf.concat([voxels, images], 0)  # (N + M, d)
    labels = tf.concat([voxel_labels, image_labels], 0)
    d = pairwise_distance(x, x)
    same = same_label(labels, labels)
    negative_terms = tf.where(same, -BIG, margin - d)  # (T, T): only negatives count
    per_anchor = tf.reduce_logsumexp(negative_terms, axis=1)  # (T,) log sum_k exp(margin - D_ik)
    j = tf.reduce_logsumexp(tf.stack([tf.broadcast_to(per_anchor[:, None], tf.shape(d)),
                                      tf.broadcast_to(per_anchor[None, :], tf.shape(d))]), axis=0) + d  # (T, T)
    count = tf.shape(x)[0]
    upper = tf.linalg.band_part(tf.ones([count, count], tf.bool), 0, -1) & ~tf.eye(count, dtype=tf.bool)
    positives = tf.cast(same & upper, x.dtype)
    return tf.reduce_sum(tf.square(tf.nn.relu(j)) * positives) / tf.maximum(2.0 * tf.reduce_sum(positives), 1.0)


def info_nce_labelled(voxels: tf.Tensor, voxel_labels: tf.Tensor, images: tf.Tensor, image_labels: tf.Tensor,
                      temperature: float = 0.1, **_) -> tf.Tensor:
    """Symmetric InfoNCE on L2-normalised embeddings; several views of an object are all positives of its voxels."""
    v = tf.math.l2_normalize(voxels, axis=1)
    im = tf.math.l2_normalize(images, axis=1)
    logits = tf.matmul(im, v, transpose_b=True) / temperature  # (M, N)
    same = same_label(image_labels, voxel_labels)  # (M, N)
    positive = tf.where(same, logits, -BIG)
    image_to_voxel = tf.reduce_logsumexp(logits, axis=1) - tf.reduce_logsumexp(positive, axis=1)  # (M,)
    voxel_to_image = (tf.reduce_logsumexp(tf.transpose(logits), axis=1)
                      - tf.reduce_logsumexp(tf.transpose(positive), axis=1))  # (N,)
    return (tf.reduce_mean(image_to_voxel) + tf.reduce_mean(voxel_to_image)) / 2.0


def info_nce_loss(voxel_embeddings: tf.Tensor, image_embeddings: tf.Tensor, temperature: float = 0.1) -> tf.Tensor:
    """CLIP-style symmetric cross-entropy where row i of both is the same object: mean of both directions."""
    labels = tf.range(tf.shape(voxel_embeddings)[0])
    return info_nce_labelled(voxel_embeddings, labels, image_embeddings, labels, temperature)


LOSSES = {
    "triplet": triplet,
    "symmetric_triplet": symmetric_triplet,
    "batch_hard": batch_hard_triplet_loss,
    "semi_hard": semi_hard_triplet_loss,
    "lifted": lifted_structured_loss,
    "info_nce": info_nce_labelled,
}
