"""JsonRenderer: one machine-readable object on stdout when the answer is complete."""

from __future__ import annotations

import io
import json
from dataclasses import replace

from glmv_cli.engine.events import Box, CacheUse
from glmv_cli.inputs.image import PreparedImage
from glmv_cli.render.json import JsonRenderer
from tests.render.fakes import events, play

KEYS = {"answer", "thinking", "boxes", "truncated", "finish_reason", "model", "inputs",
        "usage", "timings", "cache"}


def image(source: str = "cat.png", original_size=(2000, 1000)) -> PreparedImage:
    return PreparedImage(source=source, rgb=b"", width=896, height=448,
                         original_size=original_size, format="PNG")


def render(evs, images=None, model="glm-4.1v-9b-thinking-q4") -> tuple[str, dict]:
    images = (image(),) if images is None else images
    out = io.StringIO()
    play(JsonRenderer(out, model, images, status=None), evs)
    text = out.getvalue()
    return text, json.loads(text)


def test_output_is_one_json_line_with_the_documented_keys():
    text, obj = render(events())

    assert text.endswith("\n")
    assert text.count("\n") == 1
    assert set(obj) == KEYS
    assert obj["answer"] == "The answer is 42."
    assert obj["thinking"] == "I look at the image."
    assert obj["model"] == "glm-4.1v-9b-thinking-q4"
    assert obj["truncated"] is False
    assert obj["finish_reason"] == "stop"
    assert obj["boxes"] == []


def test_inputs_describe_each_image():
    _, obj = render(events())

    assert obj["inputs"] == [{
        "source": "cat.png", "type": "image", "format": "PNG",
        "original_size": [2000, 1000], "size": [896, 448], "tokens": 32 * 16,
    }]


def test_usage_and_timings():
    _, obj = render(events())

    assert obj["usage"]["prompt_text_tokens"] == 10
    assert obj["usage"]["image_tokens"] == 256
    assert obj["usage"]["prompt_tokens"] == 266
    assert obj["usage"]["generated_tokens"] == 30
    assert obj["timings"]["prefill_s"] == 0.25
    assert obj["timings"]["per_image_encode_s"] == [0.5]


def test_truncated_answer():
    _, obj = render(events(finish_reason="length"))

    assert obj["truncated"] is True
    assert obj["finish_reason"] == "length"


def test_boxes_map_to_original_pixels_with_one_image():
    box = Box("[[100,200,300,400]]", coords=((100.0, 200.0, 300.0, 400.0),))
    _, obj = render(events(boxes=(box, Box("42"))))

    assert obj["boxes"] == [
        {"text": "[[100,200,300,400]]", "coords": [[100.0, 200.0, 300.0, 400.0]],
         "pixels": [[200, 200, 600, 400]]},
        {"text": "42", "coords": []},
    ]


def test_no_pixels_with_two_images():
    box = Box("[[100,200,300,400]]", coords=((100.0, 200.0, 300.0, 400.0),))
    _, obj = render(events(boxes=(box,)), images=(image("a.png"), image("b.png", (640, 480))))

    assert obj["boxes"] == [
        {"text": "[[100,200,300,400]]", "coords": [[100.0, 200.0, 300.0, 400.0]]},
    ]
    assert [i["source"] for i in obj["inputs"]] == ["a.png", "b.png"]


def test_non_ascii_answer_is_kept_readable():
    text, obj = render(events(answer=("猫",)))

    assert obj["answer"] == "猫"
    assert "猫" in text


def test_cache_use_is_reported():
    evs = events()
    evs[-1] = replace(evs[-1], cache=CacheUse(prefix="miss", images_hit=1, images_encoded=1,
                                               saved_s=12.3456))
    _, obj = render(evs)
    assert obj["cache"] == {"prefix": "miss", "images": "partial", "images_hit": 1,
                            "saved_s": 12.346}
    _, off = render(events())
    assert off["cache"] == {"prefix": "off", "images": "off", "images_hit": 0, "saved_s": 0.0}
