"""Stateless functions behind the layers: ``import dlcore.nn.functional as F``.

Every function accepts Tensors or NumPy arrays and is differentiable through
``Tensor.backward()``.
"""

from .ops.activation import (
    elu,
    gelu,
    leaky_relu,
    log_softmax,
    prelu,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    step,
    tanh,
)
from .ops.activation_more import (
    celu,
    glu,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    logsigmoid,
    mish,
    relu6,
    selu,
    softmin,
    softshrink,
    softsign,
    tanhshrink,
    threshold,
)
from .ops.attention import scaled_dot_product_attention
from .ops.batchnorm import batch_norm
from .ops.bilinear import bilinear
from .ops.conv import conv2d, pad
from .ops.conv1d import (
    adaptive_avg_pool1d,
    adaptive_max_pool1d,
    adaptive_min_pool1d,
    avg_pool1d,
    conv1d,
    max_pool1d,
    min_pool1d,
)
from .ops.conv_transpose import conv_transpose2d
from .ops.distance import cosine_similarity, normalize, pairwise_distance
from .ops.dropout import dropout, dropout2d
from .ops.dropout_more import alpha_dropout, dropout1d
from .ops.encoding import embedding, one_hot
from .ops.flatten import flatten, unflatten
from .ops.fold import fold, unfold
from .ops.groupnorm import group_norm
from .ops.instancenorm import instance_norm
from .ops.layernorm import layer_norm
from .ops.linear import linear
from .ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    rmse_loss,
    smooth_l1_loss,
)
from .ops.loss_more import (
    cosine_embedding_loss,
    gaussian_nll_loss,
    hinge_embedding_loss,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_soft_margin_loss,
    poisson_nll_loss,
    soft_margin_loss,
    triplet_margin_loss,
)
from .ops.multihead import multi_head_attention_forward
from .ops.pixel_shuffle import pixel_shuffle, pixel_unshuffle
from .ops.pooling import (
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    adaptive_min_pool2d,
    avg_pool2d,
    max_pool2d,
    min_pool2d,
)
from .ops.upsample import interpolate

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_min_pool1d",
    "adaptive_min_pool2d",
    "alpha_dropout",
    "avg_pool1d",
    "avg_pool2d",
    "batch_norm",
    "bilinear",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "celu",
    "conv1d",
    "conv2d",
    "conv_transpose2d",
    "cosine_embedding_loss",
    "cosine_similarity",
    "cross_entropy",
    "dropout",
    "dropout1d",
    "dropout2d",
    "elu",
    "embedding",
    "flatten",
    "fold",
    "gaussian_nll_loss",
    "gelu",
    "glu",
    "group_norm",
    "hardshrink",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "hinge_embedding_loss",
    "huber_loss",
    "instance_norm",
    "interpolate",
    "kl_div",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "logsigmoid",
    "margin_ranking_loss",
    "max_pool1d",
    "max_pool2d",
    "min_pool1d",
    "min_pool2d",
    "mish",
    "mse_loss",
    "multi_head_attention_forward",
    "multi_margin_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "normalize",
    "one_hot",
    "pad",
    "pairwise_distance",
    "pixel_shuffle",
    "pixel_unshuffle",
    "poisson_nll_loss",
    "prelu",
    "relu",
    "relu6",
    "rmse_loss",
    "scaled_dot_product_attention",
    "selu",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "soft_margin_loss",
    "softmax",
    "softmin",
    "softplus",
    "softshrink",
    "softsign",
    "step",
    "tanh",
    "tanhshrink",
    "threshold",
    "triplet_margin_loss",
    "unflatten",
    "unfold",
]
