import numpy as np
import pytest
import tensorflow as tf

from xmodal.training.losses import (LOSSES, batch_hard_triplet_loss, info_nce_loss, lifted_structured_loss, semi_hard_triplet_loss,
                           symmetric_triplet,
                           triplet, triplet_loss)


def numpy_triplet(a, p, n, margin):
    """Equation (1) written out."""
    return np.mean(np.maximum(((p - a) ** 2).sum(1) - ((n - a) ** 2).sum(1) + margin, 0))


def test_triplet_loss_matches_numpy():
    rng = np.random.default_rng(0)
    for margin in (1.0, 0.2):
        a, p, n = (rng.normal(size=(24, 128)).astype(np.float32) * 0.1 for _ in range(3))
        np.testing.assert_allclose(triplet_loss(a, p, n, margin).numpy(), numpy_triplet(a, p, n, margin), rtol=1e-5)
    a = rng.normal(size=(5, 8)).astype(np.float32)
    assert triplet_loss(a, a, a + 10, 1.0).numpy() == 0.0  # satisfied triplets cost nothing


def test_gradients_are_finite_when_anchor_equals_positive():
    a = tf.Variable(np.random.default_rng(1).normal(size=(6, 16)).astype(np.float32))
    with tf.GradientTape() as tape:
        loss = triplet_loss(a, tf.identity(a), a + 0.01, 1.0)
    gradient = tape.gradient(loss, a)
    assert np.isfinite(gradient.numpy()).all() and loss.numpy() > 0


# Independent numpy references, written from the papers' formulas with explicit loops.

def dist(a, b):
    return float(np.sqrt(((a - b) ** 2).sum()))


def ref_lifted(x, labels, margin):
    total, pairs = 0.0, 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            if labels[i] != labels[j]:
                continue
            s = sum(np.exp(margin - dist(x[i], x[k])) for k in range(len(x)) if labels[k] != labels[i])
            s += sum(np.exp(margin - dist(x[j], x[l])) for l in range(len(x)) if labels[l] != labels[j])
            total += max(0.0, np.log(s) + dist(x[i], x[j])) ** 2
            pairs += 1
    return total / (2 * pairs)


def ref_info_nce(v, im, t):
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    im = im / np.linalg.norm(im, axis=1, keepdims=True)
    logits = v @ im.T / t
    def ce(rows):
        return np.mean([-(r[i] - np.log(np.exp(r).sum())) for i, r in enumerate(rows)])
    return (ce(logits) + ce(logits.T)) / 2


def ref_batch_hard(v, vl, im, il, margin):
    terms = []
    for anchors, al, others, ol in ((v, vl, im, il), (im, il, v, vl)):
        for a, label in zip(anchors, al):
            pos = [dist(a, o) for o, l in zip(others, ol) if l == label]
            neg = [dist(a, o) for o, l in zip(others, ol) if l != label]
            terms.append(max(0.0, max(pos) - min(neg) + margin))
    return np.mean(terms)


def ref_semi_hard(v, vl, im, il, margin):
    terms = []
    for anchors, al, others, ol in ((v, vl, im, il), (im, il, v, vl)):
        for a, label in zip(anchors, al):
            neg = [dist(a, o) for o, l in zip(others, ol) if l != label]
            for o, l in zip(others, ol):
                if l != label:
                    continue
                d_ap = dist(a, o)
                farther = [d for d in neg if d > d_ap]
                d_an = min(farther) if farther else max(neg)
                terms.append(max(0.0, d_ap - d_an + margin))
    return np.mean(terms)


def ref_triplet_all(anchors, al, others, ol, margin):
    terms = [max(0.0, ((a - p) ** 2).sum() - ((a - n) ** 2).sum() + margin)
             for a, label in zip(anchors, al)
             for p, lp in zip(others, ol) if lp == label
             for n, ln in zip(others, ol) if ln != label]
    return np.mean(terms)


def pk_batch(seed, objects=4, views=3, dim=6, scale=0.7):
    rng = np.random.default_rng(seed)
    v = (rng.normal(size=(objects, dim)) * scale).astype(np.float32)
    im = (np.repeat(v, views, axis=0) + rng.normal(size=(objects * views, dim)) * scale).astype(np.float32)
    return v, np.arange(objects), im, np.repeat(np.arange(objects), views)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pairwise_losses_match_numpy_references(seed):
    v, vl, im, il = pk_batch(seed)
    x, labels = np.concatenate([v, im]), np.concatenate([vl, il])
    checks = {
        "lifted": (lifted_structured_loss(v, vl, im, il, margin=1.0), ref_lifted(x, labels, 1.0)),
        "batch_hard": (batch_hard_triplet_loss(v, vl, im, il, margin=0.5), ref_batch_hard(v, vl, im, il, 0.5)),
        "semi_hard": (semi_hard_triplet_loss(v, vl, im, il, margin=0.5), ref_semi_hard(v, vl, im, il, 0.5)),
        "triplet": (triplet(v, vl, im, il, margin=1.0), ref_triplet_all(v, vl, im, il, 1.0)),
        "symmetric": (symmetric_triplet(v, vl, im, il, margin=1.0),
                      ref_triplet_all(v, vl, im, il, 1.0) + ref_triplet_all(im, il, v, vl, 1.0)),
    }
    for name, (got, expected) in checks.items():
        assert float(got) == pytest.approx(expected, rel=1e-4, abs=1e-5), name


@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_info_nce_matches_numpy_reference(temperature):
    rng = np.random.default_rng(3)
    v, im = (rng.normal(size=(7, 16)).astype(np.float32) for _ in range(2))
    assert float(info_nce_loss(v, im, temperature)) == pytest.approx(ref_info_nce(v, im, temperature), rel=1e-5)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_and_gradients_are_finite_at_zero_distance(name):
    v, vl, im, il = pk_batch(0)
    same = np.repeat(v, 3, axis=0)  # every image exactly on its voxel, and two objects identical
    v[1] = v[0]
    same[3:6] = v[0]
    voxels, images = tf.Variable(v), tf.Variable(same)
    with tf.GradientTape() as tape:
        loss = LOSSES[name](voxels, tf.constant(vl), images, tf.constant(il))
    gradients = tape.gradient(loss, [voxels, images])
    assert np.isfinite(float(loss))
    assert all(np.isfinite(g.numpy()).all() for g in gradients)
