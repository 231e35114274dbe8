"""The critic's thresholds, one settings object (environment prefix ``TTOM_CRITIC_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CriticConfig(BaseSettings):
    """Scoring and decision thresholds; every reason the critic gives cites the one it used."""

    model_config = SettingsConfigDict(env_prefix="TTOM_CRITIC_", extra="ignore")

    # --- scores (metrics.py) ---------------------------------------------------------------------
    frame_iou_ok: float = Field(0.3, description="a frame whose found-vs-planned box IoU is lower is a bad frame")
    min_motion: float = Field(
        0.03, description="a planned centre displacement shorter than this (fraction of the frame) is 'static'")
    min_motion_ratio: float = Field(
        0.3, description="a moving object must cover at least this fraction of its planned displacement")
    min_direction_cos: float = Field(0.7, description="cosine between found and planned displacement (research note)")
    static_tol: float = Field(
        0.06, description="a static object may drift this far (fraction of frame); 2 px at 32x32 is 0.06")
    count_dedupe_iou: float = Field(
        0.9, description="instances whose boxes overlap more count once (T2V-CompBench's filter_box)")

    # --- decision (agents/critic.py) ---------------------------------------------------------------
    min_miou: float = Field(0.4, description="accept only if the video's mean IoU reaches this")
    min_object_miou: float = Field(0.3, description="an object with lower mean IoU is not following its box track")
    min_presence: float = Field(0.75, description="an object must be found in this fraction of its planned frames")
    min_count_score: float = Field(0.75, description="fraction of frames with exactly the planned counts")
    min_relation_frac: float = Field(0.5, description="fraction of frames in which a prompted relation must hold")
    absent_rounds_for_repair: int = Field(
        2, ge=1, description="an object never found in this many rounds in a row is impossible: repair the layout")
