"""The two encoders (Conv3D voxels, Conv2D images -> 128-d) and the XModal training model.

Presets are data: a table of pools, conv widths and fc widths per branch (the report's plain
networks, `Branch`), or of stem and unit widths (`Residual`: batch normalisation, residual units
and global average pooling instead of the large flatten + fc). Every layer is a built-in Keras
layer, so saved encoders load with `safe_mode=True` without importing xmodal.
Inputs are raw: voxels uint8 occupancy (B, R, R, R) in {0, 1}, images uint8 (B, S, S, 3);
the encoders one-hot the voxels and scale images to [0, 1] themselves.
"""
import dataclasses
import math

import keras
import numpy as np
import tensorflow as tf

from xmodal.training.losses import LOSSES, triplet_hinge

NORMALIZATION = "l2_normalize"  # name of the last layer of encoders with L2-normalised embeddings

EMBEDDING_DIM = 128
LEAKY_SLOPE = 0.1


@dataclasses.dataclass(frozen=True)
class Branch:
    """One encoder: pool0 on the input, conv-lrelu-conv-lrelu-pool units, fc layers, then 128-d."""

    pool0: int
    widths: tuple[tuple[int, int], ...]  # filters of the two convs of each unit
    pools: tuple[int, ...]  # pool size after each unit
    fc: tuple[int, ...]  # hidden fc widths before the embedding layer
    anti_alias: bool = False  # each pool a max over the window at stride 1, then a binomial blur at its stride
    global_pool: bool = False  # global average pooling instead of the flatten: no weight tied to a position


@dataclasses.dataclass(frozen=True)
class Residual:
    """One encoder: pool0 on the input, a conv-BN-ReLU stem, then per unit a 2x max pool and a residual unit
    (conv-BN-ReLU-conv-BN plus the input, projected where the width changes), global average pooling, 128-d."""

    pool0: int
    stem: int  # filters of the stem conv
    widths: tuple[int, ...]  # filters of each residual unit


@dataclasses.dataclass(frozen=True)
class Preset:
    """Input resolutions and both branches."""

    voxel_res: int
    image_size: int
    voxel: Branch | Residual
    image: Branch | Residual


UNITS_2 = ((16, 32), (64, 128))
PRESETS = {
    "1-conv-1-fc": Preset(96, 486, Branch(3, UNITS_2[:1], (8,), ()), Branch(3, UNITS_2[:1], (27,), ())),
    "2-conv-1-fc": Preset(96, 486, Branch(3, UNITS_2, (2, 4), ()), Branch(3, UNITS_2, (3, 9), ())),
    "3-conv-1-fc": Preset(96, 486, Branch(3, UNITS_2 + ((128, 128),), (2, 2, 2), ()),
                          Branch(3, UNITS_2 + ((128, 128),), (3, 3, 3), ())),
    "2-conv-2-fc": Preset(96, 486, Branch(3, UNITS_2, (2, 4), (4096,)), Branch(3, UNITS_2, (3, 9), (4096,))),
    "small": Preset(32, 64, Branch(2, ((8, 16), (32, 32)), (2, 2), (256,)), Branch(2, ((8, 16), (32, 32)), (2, 4), (256,))),
}
# `small` with its images at their full 64^2 (no input pooling): finer detail for the image branch
PRESETS["small-hd"] = dataclasses.replace(PRESETS["small"], image=dataclasses.replace(PRESETS["small"].image, pool0=1))
PRESETS["paper"] = PRESETS["2-conv-2-fc"]  # Table 1
# `small-hd` with an image branch that does not read pixel positions: anti-aliased pools and global average
# pooling, three units to keep the receptive field; the voxel branch is small-hd's
PRESETS["small-aa"] = dataclasses.replace(PRESETS["small-hd"], image=Branch(
    1, ((8, 16), (32, 32), (64, 64)), (2, 2, 2), (256,), anti_alias=True, global_pool=True))
# The four candidates at CPU scale (32^3 voxels and 64^2 images, pool0 2, half widths, fc 512):
# the architectures experiment, the report's Figure 4 in about 30 CPU minutes.
UNITS_CPU = ((8, 16), (32, 64), (64, 64))
PRESETS.update({
    "res-small": Preset(32, 64, Residual(2, 16, (32, 64, 128)), Residual(2, 16, (32, 64, 128))),
    "cpu-1-conv-1-fc": Preset(32, 64, Branch(2, UNITS_CPU[:1], (4,), ()), Branch(2, UNITS_CPU[:1], (8,), ())),
    "cpu-2-conv-1-fc": Preset(32, 64, Branch(2, UNITS_CPU[:2], (2, 2), ()), Branch(2, UNITS_CPU[:2], (2, 4), ())),
    "cpu-3-conv-1-fc": Preset(32, 64, Branch(2, UNITS_CPU, (2, 2, 1), ()), Branch(2, UNITS_CPU, (2, 2, 2), ())),
    "cpu-2-conv-2-fc": Preset(32, 64, Branch(2, UNITS_CPU[:2], (2, 2), (512,)), Branch(2, UNITS_CPU[:2], (2, 4), (512,))),
})


def preset(name: str) -> Preset:
    """The preset called `name`; a ValueError lists the known ones."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(sorted(PRESETS))}")
    return PRESETS[name]


@dataclasses.dataclass(frozen=True)
class Head:
    """How a branch ends: dropout before its fc layers, and an L2 normalisation of the embedding."""

    normalize: bool = False
    dropout: float = 0.0


def embedding(x: keras.KerasTensor, fc: tuple[int, ...], first: int, end: Head) -> keras.KerasTensor:
    """fc-lrelu layers, then the float32 embedding (unit length if asked); dropout before each fc layer if asked."""
    for i, width in enumerate(fc + (EMBEDDING_DIM,), start=first):
        if end.dropout:
            x = keras.layers.Dropout(end.dropout, name=f"dropout{i}")(x)
        last = i == first + len(fc)
        x = keras.layers.Dense(width, kernel_initializer="he_normal", dtype="float32" if last else None,
                               name="embedding" if last else f"fc{i}")(x)
        if not last:
            x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"rect{i}")(x)
    return keras.layers.UnitNormalization(dtype="float32", name=NORMALIZATION)(x) if end.normalize else x


def binomial(size: int) -> np.ndarray:
    """The normalised binomial filter (size + 1,) of a downsampling by `size`: [1, 2, 1] / 4 for 2."""
    row = np.array([math.comb(size, k) for k in range(size + 1)], np.float32)
    return row / row.sum()


def blur_pool(x: keras.KerasTensor, size: int, name: str) -> keras.KerasTensor:
    """Anti-aliased max pooling of 2D features (Zhang 2019): the max over each window at stride 1, then a fixed
    binomial low-pass filter at stride `size`, a built-in depthwise convolution whose weights are not trained."""
    x = keras.layers.MaxPooling2D(size, strides=1, padding="same", name=f"{name}_max")(x)
    blur = keras.layers.DepthwiseConv2D(size + 1, strides=size, padding="same", use_bias=False, trainable=False,
                                        name=f"{name}_blur")
    x = blur(x)
    row = binomial(size)
    blur.set_weights([np.tile(np.outer(row, row)[:, :, None, None], (1, 1, x.shape[-1], 1))])  # (k, k, C, 1)
    return x


def plain_head(x: keras.KerasTensor, branch: Branch, conv: type, pool: type, gap: type,
               end: Head) -> keras.KerasTensor:
    """Units of conv-lrelu-conv-lrelu-pool, flatten (or global average pooling), then `embedding` (Table 1)."""
    for unit, ((a, b), size) in enumerate(zip(branch.widths, branch.pools), start=1):
        for part, filters in (("a", a), ("b", b)):
            x = conv(filters, 3, padding="same", kernel_initializer="he_normal", name=f"conv{unit}{part}")(x)
            x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"rect{unit}{part}")(x)
        x = blur_pool(x, size, f"pool{unit}") if branch.anti_alias else pool(size, name=f"pool{unit}")(x)
    x = gap(name="global_pool")(x) if branch.global_pool else keras.layers.Flatten(name="flat")(x)
    return embedding(x, branch.fc, len(branch.widths) + 1, end)


def conv_bn(x: keras.KerasTensor, filters: int, size: int, conv: type, name: str) -> keras.KerasTensor:
    """A bias-free convolution and its batch normalisation."""
    x = conv(filters, size, padding="same", use_bias=False, kernel_initializer="he_normal", name=f"{name}_conv")(x)
    return keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)


def residual_head(x: keras.KerasTensor, branch: Residual, conv: type, pool: type, gap: type,
                  end: Head) -> keras.KerasTensor:
    """Stem, pooled residual units, global average pooling, then `embedding`."""
    x = keras.layers.ReLU(name="stem_relu")(conv_bn(x, branch.stem, 3, conv, "stem"))
    for unit, width in enumerate(branch.widths, start=1):
        x = pool(2, name=f"pool{unit}")(x)
        y = keras.layers.ReLU(name=f"unit{unit}_relu_a")(conv_bn(x, width, 3, conv, f"unit{unit}a"))
        y = conv_bn(y, width, 3, conv, f"unit{unit}b")
        shortcut = x if x.shape[-1] == width else conv_bn(x, width, 1, conv, f"unit{unit}_projection")
        x = keras.layers.ReLU(name=f"unit{unit}_relu")(keras.layers.Add(name=f"unit{unit}_add")([y, shortcut]))
    x = gap(name="global_pool")(x)
    return embedding(x, (), len(branch.widths) + 1, end)


def head(x: keras.KerasTensor, branch: Branch | Residual, dims: int, end: Head) -> keras.KerasTensor:
    """The layers of a branch after its input scaling, in 2 or 3 dimensions."""
    layers = keras.layers
    conv, pool, gap = ((layers.Conv2D, layers.MaxPooling2D, layers.GlobalAveragePooling2D) if dims == 2 else
                       (layers.Conv3D, layers.MaxPooling3D, layers.GlobalAveragePooling3D))
    if isinstance(branch, Residual):
        return residual_head(x, branch, conv, pool, gap, end)
    if branch.anti_alias and dims != 2:
        raise ValueError("anti-aliased pooling is built for the 2D image branch only")
    return plain_head(x, branch, conv, pool, gap, end)


def voxel_encoder(p: Preset, channels: int = 2, end: Head = Head()) -> keras.Model:
    """Conv3D branch: uint8 occupancy (B, R, R, R) -> (B, 128); one-hot 2 channels (or 1)."""
    r = p.voxel_res
    voxels = keras.Input((r, r, r), dtype="uint8", name="voxels")
    x = keras.layers.Reshape((r, r, r, 1), name="channel")(voxels)
    x = keras.layers.Rescaling(1.0, name="filled")(x)  # (B, R, R, R, 1) float
    x = keras.layers.AveragePooling3D(p.voxel.pool0, name="pool0")(x)  # (B, R/p, R/p, R/p, 1)
    if channels == 2:  # pooling is linear: pool(1 - filled) == 1 - pool(filled)
        empty = keras.layers.Rescaling(-1.0, offset=1.0, name="empty")(x)
        x = keras.layers.Concatenate(name="one_hot")([empty, x])  # (B, R/p, R/p, R/p, 2)
    return keras.Model(voxels, head(x, p.voxel, 3, end), name="voxel_encoder")


def image_encoder(p: Preset, end: Head = Head()) -> keras.Model:
    """Conv2D branch: uint8 images (B, S, S, 3) -> (B, 128), pixels scaled to [0, 1]."""
    images = keras.Input((p.image_size, p.image_size, 3), dtype="uint8", name="images")
    x = keras.layers.Rescaling(1.0 / 255, name="scale")(images)
    x = keras.layers.AveragePooling2D(p.image.pool0, name="pool0")(x)
    return keras.Model(images, head(x, p.image, 2, end), name="image_encoder")


def build_encoders(name: str, voxel_channels: int = 2, normalize: bool = False,
                   dropout: float = 0.0) -> tuple[keras.Model, keras.Model]:
    """(voxel_encoder, image_encoder) of a preset; `normalize` ends both with an L2 normalisation."""
    p, end = preset(name), Head(normalize, dropout)
    return voxel_encoder(p, voxel_channels, end), image_encoder(p, end)


def gathered(local: tf.Tensor) -> tf.Tensor:
    """The rows (R * n, d) of every replica's (n, d), in replica order; gradients flow through this replica's rows.

    Each replica places its rows in a zero (R * n, d) tensor and the tensors are summed across replicas: an
    all-reduce like the gradients' (all_gather first gathers int32 shapes, whose collective keys then clash
    with the next strategy's reductions in the same process)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return local
    n, replica = tf.shape(local)[0], context.replica_id_in_sync_group
    start = replica * n
    placed = tf.pad(tf.stop_gradient(local), [[start, (context.num_replicas_in_sync - 1 - replica) * n], [0, 0]])
    everything = context.all_reduce(tf.distribute.ReduceOp.SUM, placed)  # (R * n, d)
    return tf.concat([everything[:start], local, everything[start + n:]], axis=0)


def replica_share(weight: keras.Variable) -> tf.Tensor:
    """The weight's value, with its gradient divided by the number of replicas: every replica computes the whole
    batch's loss, so the optimizer's sum over replicas then counts the weight's gradient once."""
    context = tf.distribute.get_replica_context()
    value = tf.convert_to_tensor(weight)
    if context is None or context.num_replicas_in_sync == 1:
        return value
    share = value / context.num_replicas_in_sync
    return share + tf.stop_gradient(value - share)


class XModal(keras.Model):
    """Both encoders trained with one loss of `xmodal.training.losses`.

    Batches are either triplets {voxels, positive, negative}, trained with equation (1) exactly
    as the report, or P x K object views {voxels (P,...), images (P, K, ...)}, trained with a
    batch loss of `LOSSES` (labels: the object's position in the global batch). A batch loss
    compares every pair of the global batch: each replica gathers the embeddings of all replicas
    (gradients through its own rows only) and computes the whole loss, so the gradients the
    optimizer sums over replicas are those of one device holding the whole batch. With
    `learn_temperature`, InfoNCE's temperature is 1 / exp(logit_scale), a trained weight clipped
    to [0.01, 1] (as CLIP).
    """

    def __init__(self, voxels: keras.Model, images: keras.Model, loss: str = "triplet", margin: float = 1.0,
                 temperature: float = 0.1, learn_temperature: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.voxel_encoder, self.image_encoder = voxels, images
        self.loss_name, self.margin = loss, margin
        self.logit_scale = self.add_weight(shape=(), initializer=keras.initializers.Constant(-math.log(temperature)),
                                           trainable=learn_temperature, name="logit_scale")
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def temperature(self) -> tf.Tensor:
        """InfoNCE's temperature: 1 / exp(logit_scale), within [0.01, 1]."""
        return tf.exp(-tf.clip_by_value(replica_share(self.logit_scale), 0.0, math.log(100.0)))

    def call(self, batch: dict, training: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
        """Embeddings of the voxels (N, 128) and of all images (M, 128), positives before negatives."""
        if "positive" in batch:
            pictures = tf.concat([batch["positive"], batch["negative"]], 0)  # (2B, S, S, 3)
        else:
            pictures = tf.reshape(batch["images"], tf.concat([[-1], tf.shape(batch["images"])[2:]], 0))  # (P*K, S, S, 3)
        return self.voxel_encoder(batch["voxels"], training=training), self.image_encoder(pictures, training=training)

    @property
    def metrics(self) -> list:
        return [self.loss_tracker]

    def batch_loss(self, batch: dict, training: bool) -> tuple[tf.Tensor, tf.Tensor]:
        """(this replica's loss, whose gradients the optimizer sums over replicas; the loss of the global batch)."""
        voxels, images = self(batch, training=training)
        if "positive" in batch:
            positive, negative = tf.split(images, 2)
            per_triplet = triplet_hinge(voxels, positive, negative, self.margin)  # (B,)
            return tf.nn.compute_average_loss(per_triplet), tf.reduce_mean(per_triplet)
        views = tf.shape(images)[0] // tf.shape(voxels)[0]
        voxels, images = gathered(voxels), gathered(images)  # (P, 128), (P * K, 128) of the global batch
        objects = tf.shape(voxels)[0]
        loss = LOSSES[self.loss_name](voxels, tf.range(objects), images, tf.repeat(tf.range(objects), views),
                                      margin=self.margin, temperature=self.temperature)
        return loss, loss
    def train_step(self, data) -> dict:
        batch, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            loss, plain = self.batch_loss(batch, training=True)
            scaled = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        self.loss_tracker.reset_state()  # report the loss of this step, not a running mean
        self.loss_tracker.update_state(plain)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data) -> dict:
        batch, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        _, plain = self.batch_loss(batch, training=False)
        self.loss_tracker.update_state(plain)
        return {"loss": self.loss_tracker.result()}
