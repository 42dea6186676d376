"""Parity: glmv against the reference implementation, on the same weights.

The reference is transformers' Glm4vForConditionalGeneration with its own processors, at
f32, on the tiny model's checkpoint rebuilt by the project's generator; glmv is the real
engine on that checkpoint converted at f32 by llama.cpp's own converter. For each input:
the same text tokens with the image tokens in the same places, the same M-RoPE positions
and image grids, the vision encoder's output, the first generated token's logits, and
greedy decoding. A table of all of it is printed at the end of the run.

Run with the `parity` extra: pip install -e ".[parity]" && pytest tests/parity
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from glmv_cli.inputs.image import prepare_image, target_size
from glmv_cli.inputs.source import read_source
from glmv_cli.inputs.video import (
    PlannedFrame,
    SampledFrame,
    Video,
    VideoFile,
    plan_frames,
)
from glmv_cli.models.registry import TINY_DIR
from tests.parity import glmv_run
from tests.parity.cases import IMAGE_CASES, VIDEO_CASES, ImageCase, VideoCase
from tests.parity.compare import N_NEW, ROWS, Row, compare
from tests.parity.conftest import convert
from tests.parity.reference import Reference, rgb_frames

# Images: what glmv feeds llama.cpp is what the reference feeds its model, so only
# llama.cpp's arithmetic differs from PyTorch's.
IMAGE_LOGIT_COSINE = 0.9999
# Video, smooth motion: llama.cpp encodes one image per pair, the reference two different
# frames; glmv's average of the pair is what these thresholds hold it to (see README).
VIDEO_SMOOTH_LOGIT_COSINE = 0.99
# The average must err well below the first frame alone in the encoder's output (in
# squared error; for unrelated temporal kernels, as in the random tiny model, half).
VIDEO_AVERAGE_VS_FIRST = 0.7


def test_the_checkpoint_is_the_shipped_tiny_model(llama_cpp_src: Path, checkpoint: Path,
                                                  tmp_path: Path) -> None:
    # Converted at f16 as the generator does, it is byte for byte the model glmv ships:
    # the reference runs the very weights of `--model tiny`.
    for name, mmproj in (("tiny-glm41v-f16.gguf", False), ("mmproj-tiny-glm41v-f16.gguf", True)):
        out = convert(llama_cpp_src, checkpoint, "f16", tmp_path / name, mmproj)
        assert out.read_bytes() == (TINY_DIR / name).read_bytes(), name


def test_target_size_is_transformers_smart_resize() -> None:
    from transformers.models.glm4v.image_processing_pil_glm4v import smart_resize

    compared = 0
    for budget in (16, 64, 256, 1024, 6144):
        for width in [*range(1, 120, 3), 199, 200, 300, 640, 1000, 1920, 4000]:
            for height in [*range(1, 120, 7), 150, 480, 1080, 3000]:
                try:
                    h, w = smart_resize(2, height, width, 2, 28, 112 * 112, 2 * budget * 784)
                except ValueError:  # aspect ratio over 200: the reference refuses it
                    continue
                if (w // 28) * (h // 28) > budget or (w // 28) * (h // 28) < 8:
                    continue  # the reference over its cap or under llama.cpp's floor
                compared += 1
                assert target_size(width, height, budget) == (w, h), (width, height, budget)
    assert compared > 4000


def _record(row: Row) -> Row:
    ROWS.append(row)
    return row


@pytest.mark.parametrize("case", IMAGE_CASES, ids=lambda c: c.name)
def test_images_match_the_reference(case: ImageCase, reference: Reference,
                                    engine_f32: object, tmp_path: Path) -> None:
    paths = case.write(tmp_path)
    images = tuple(prepare_image(read_source(str(p), io.BytesIO()), case.budget)
                   for p in paths)

    fed = glmv_run.run(engine_f32, images, case.question, N_NEW)
    ref = reference.image(paths, case.question, case.budget, N_NEW)

    row = _record(compare(case.name, case.group, fed, ref))
    assert row.tokens_equal and row.positions_equal and row.grids.endswith("="), row
    assert row.logit_cos >= IMAGE_LOGIT_COSINE, row
    assert row.greedy_agrees, row


def _glmv_frames(path: Path, first_only: bool) -> list[SampledFrame]:
    with VideoFile(str(path)) as vf:
        plan = plan_frames(vf.info)
        if first_only:  # what glmv did before: one frame stands for its pair
            plan = replace(plan, frames=tuple(PlannedFrame(f.index, f.time, f.index, f.time)
                                              for f in plan.frames))
        return list(vf.read(plan))


@pytest.mark.parametrize("case", VIDEO_CASES, ids=lambda c: c.name)
def test_video_matches_the_reference(case: VideoCase, reference: Reference,
                                     engine_f32: object, tmp_path: Path) -> None:
    path = case.write(tmp_path)
    frames, fps = rgb_frames(path)
    ref = reference.video(frames, fps, case.question, N_NEW)

    rows = {}
    for mode in ("first frame", "average"):
        sampled = _glmv_frames(path, first_only=mode == "first frame")
        fed = glmv_run.run(engine_f32, (Video(str(path), tuple(sampled)),), case.question,
                           N_NEW)
        rows[mode] = _record(compare(f"{case.name}: {mode}", "video", fed, ref))

    average, first = rows["average"], rows["first frame"]
    assert average.tokens_equal and average.positions_equal, average
    assert average.grids.endswith("="), average
    if case.stepped:  # a pair's frames are equal: its average is exact
        assert average.logit_cos >= IMAGE_LOGIT_COSINE, average
        assert average.greedy_agrees, average
    else:
        assert average.embedding_err <= VIDEO_AVERAGE_VS_FIRST * first.embedding_err, rows
        assert average.logit_cos >= VIDEO_SMOOTH_LOGIT_COSINE, average
