"""``Embedding``: a learned table of vectors looked up by integer index."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter
from .ops.encoding import _padding_index


class Embedding(Module):
    """A ``(num_embeddings, embedding_dim)`` table whose rows are looked up by index: word or
    category ids in, vectors out, as ``torch.nn.Embedding``.

    Args:
        num_embeddings: how many rows (ids ``0 .. num_embeddings - 1``).
        embedding_dim: the length of each row.
        padding_idx: a row that starts at zero and gets no gradient (a padding id).
        dtype: the table's dtype (float32 by default).

    Shape:
        integer ``(*)`` -> ``(*, embedding_dim)``.

    Rows start as ``N(0, 1)`` draws, as PyTorch's do.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 padding_idx: Optional[int] = None, dtype: Any = np.float32) -> None:
        super().__init__()
        for name, value in (("num_embeddings", num_embeddings),
                            ("embedding_dim", embedding_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Embedding: {name} must be a positive int, got {value!r}")
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.padding_idx = (None if padding_idx is None else
                            _padding_index("Embedding", padding_idx, self.num_embeddings))
        self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim),
                                         dtype=np.dtype(dtype)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, input: Any) -> Tensor:
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"
