"""`glmv video` end to end: real videos written by OpenCV, the real engine, the tiny model."""

from __future__ import annotations

import json

import cv2
import pytest

from glmv_cli.commands.options import AnswerOptions, GenerationOptions, ModelChoice, OutputOptions
from glmv_cli.commands.video import answer_video
from glmv_cli.engine.events import Progress
from glmv_cli.engine.request import Request
from glmv_cli.inputs.video import Video, VideoFile, plan_frames
from glmv_cli.tasks.video import VideoOptions
from tests.engine.test_llama import _capture_decoded_tokens
from tests.videos import make_vfr, numbered_frame, write_video, write_wav

SHORT = ("--think-budget", "6", "--max-tokens", "20")


@pytest.fixture
def clip(tmp_path):
    """6 s at 25 fps."""
    return write_video(tmp_path / "clip.mp4", 150, 25)


def test_json_lists_the_frames_used(glmv, clip):
    r = glmv("video", str(clip), "When does it change?", "--json", *SHORT)
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert [f["index"] for f in obj["frames"]] == [0, 25, 50, 75, 100, 125]
    assert [f["time"] for f in obj["frames"]] == [0, 1, 2, 3, 4, 5]
    assert [f["timestamp"] for f in obj["frames"]] == [0, 1, 2, 3, 4, 5]
    assert obj["usage"]["image_tokens"] == sum(f["tokens"] for f in obj["frames"])
    assert [i["source"] for i in obj["inputs"]] == [f"{clip}@{s}.0s" for s in range(6)]
    assert obj["video"]["frames"] == 6 and obj["video"]["end"] == 6
    assert obj["answer"] and obj["thinking"] and obj["model"] == "tiny"
    assert len(obj["timings"]["per_image_encode_s"]) == 6


def test_piped_output_is_the_answer_only(glmv, clip):
    r = glmv("video", str(clip), "What happens?", *SHORT)
    js = json.loads(glmv("video", str(clip), "What happens?", "--json", *SHORT).stdout)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == js["answer"]
    assert [ln for ln in r.stderr.splitlines() if not ln.startswith("glmv: warning")] == []


def test_range_caps_and_budget_through_the_cli(glmv, tmp_path):
    path = write_video(tmp_path / "long.mp4", 1500, 25, size=(640, 360))  # 60 s
    r = glmv("video", str(path), "q", "--json", "--start", "0:10", "--end", "40",
             "--max-frames", "4", "--max-video-tokens", "256", "--max-tokens", "2")
    assert r.returncode == 0, r.stderr
    frames = json.loads(r.stdout)["frames"]
    # 30 candidates (10 s to 39 s), 4 kept evenly; 256 / 4 = 64 tokens each at most.
    assert [f["time"] for f in frames] == [10, 20, 29, 39]
    assert all(f["tokens"] <= 64 for f in frames) and sum(f["tokens"] for f in frames) <= 256


def test_variable_frame_rate_video(glmv, tmp_path):
    path = make_vfr(write_video(tmp_path / "vfr.mp4", 60, 10), [(30, 0.1), (30, 0.3)])
    r = glmv("video", str(path), "q", "--json", "--start", "2", "--end", "6",
             "--max-tokens", "2")
    assert r.returncode == 0, r.stderr
    frames = json.loads(r.stdout)["frames"]
    # Real times: frame i at 0.1 i s up to frame 29, then 3 s + 0.3 s per frame.
    assert [(f["index"], f["time"]) for f in frames] == [(20, 2.0), (30, 3.0), (34, 4.2),
                                                         (37, 5.1)]
    assert [f["timestamp"] for f in frames] == [2, 3, 4, 5]


def test_timestamps_follow_each_frame_in_the_decoded_prompt(engine, tmp_path, monkeypatch):
    clip = write_video(tmp_path / "clip.mp4", 500, 25)  # 20 s
    with VideoFile(str(clip)) as vf:
        plan = plan_frames(vf.info, fps=0.2, start=0.5)
        frames = list(vf.read(plan))
    # Every 2.5 s from 0.5 s (pairs every 5 s): frames 13, 75, 138, ..., 388, the first at
    # or after each time; seven, so the last is repeated to make a fourth pair.
    assert [(f.index, f.pair_index) for f in frames] == [(13, 75), (138, 200), (263, 325),
                                                         (388, 388)]
    assert [f.time for f in frames] == pytest.approx([0.52, 5.52, 10.52, 15.52])
    request = Request("When?", media=(Video(str(clip), tuple(frames)),), max_tokens=1)
    seen = _capture_decoded_tokens(engine, request, monkeypatch)

    def tok(text, special=False):
        return engine.tokenize(text, special=special)

    begin_image, end_image = tok("<|begin_of_image|>", True), tok("<|end_of_image|>", True)
    video_open, video_close = tok("<|begin_of_video|>", True), tok("<|end_of_video|>", True)
    assert len(video_open) == len(video_close) == len(begin_image) == 1
    body = []
    for f in frames:
        body += [*begin_image, *[None] * f.image.tokens, *end_image, *tok(str(int(f.time)))]
    head = tok("[gMASK]<sop><|user|>", True) + tok("\n")
    expected = [*head, *video_open, *body, *video_close, *tok("When?"),
                *tok("<|assistant|>\n", True)]
    assert seen[:len(expected)] == expected
    assert [str(int(f.time)) for f in frames] == ["0", "5", "10", "15"]


def test_progress_says_frame_and_time(engine, clip):
    with VideoFile(str(clip)) as vf:
        frames = list(vf.read(plan_frames(vf.info, fps=0.5)))
    events = engine.generate(Request("q", media=(Video(str(clip), tuple(frames)),),
                                     max_tokens=1))
    labels = [e.label for e in events if isinstance(e, Progress) and e.stage == "encode"]
    assert labels == [f"Encoding frame {i + 1}/3 at 0:0{2 * i} ({frames[i].image.tokens} tokens)"
                      for i in range(3)]


def test_answer_video_is_callable_for_ask(clip, capsys):
    opts = AnswerOptions(model=ModelChoice("tiny"), output=OutputOptions(json=True),
                         generation=GenerationOptions(max_tokens=3))
    answer_video(str(clip), "When?", opts, VideoOptions(fps=2, max_frames=3))
    obj = json.loads(capsys.readouterr().out)
    # 12 candidates every 0.5 s, 3 kept: 0 s, 3 s and 5.5 s (frame 137.5 rounds up).
    assert [f["index"] for f in obj["frames"]] == [0, 75, 138]
    assert [f["timestamp"] for f in obj["frames"]] == [0, 3, 5]
    assert obj["usage"]["generated_tokens"] == 3


def test_no_question_describes_the_video(glmv, clip):
    r = glmv("video", str(clip), "--max-tokens", "2", "--json")
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["frames"]) == 6


# -- --dry-run -------------------------------------------------------------------------


def test_dry_run_prints_the_plan_without_a_model(glmv, clip):
    # A model that does not exist: --dry-run must not even look for it.
    r = glmv("video", str(clip), "q", "--dry-run", env={"GLMV_MODEL": "no-such-model"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"{clip}: 0:06, 320x240, 25 fps, 150 frames")
    assert "6 frames, 6 kept" in lines[1]
    assert "image tokens" in lines[2] and "encode" in lines[3] and "prefill" in lines[3]
    assert [ln.split() for ln in lines[5:]] == [[str(25 * s), f"0:0{s}", str(s)]
                                                for s in range(6)]


def test_dry_run_json(glmv, clip):
    r = glmv("video", str(clip), "--dry-run", "--json", "--max-frames", "3",
             env={"GLMV_MODEL": "no-such-model"})
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["video"]["frame_count"] == 150 and obj["video"]["duration"] == 6
    assert obj["plan"]["candidates"] == 6 and len(obj["frames"]) == 3
    assert [f["time"] for f in obj["frames"]] == [0, 3, 5]  # 6 candidates spread to 3
    assert obj["plan"]["image_tokens"] == 3 * obj["plan"]["tokens_per_frame"]
    assert obj["estimate_cpu_s"]["encode"] > 0 and obj["estimate_cpu_s"]["prefill"] > 0


# -- errors: one line on stderr, a distinct exit code ----------------------------------


def _one_line_error(r, code: int, *needles: str) -> None:
    assert r.returncode == code, (r.returncode, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("glmv: "), r.stderr
    for needle in needles:
        assert needle in lines[0]




def _zero_frame_avi(path):
    cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240)).release()
    return path


def _png(path):
    cv2.imwrite(str(path), numbered_frame(2))
    return path


@pytest.mark.parametrize(("make", "needle"), [
    (lambda d: d / "missing.mp4", "no such file"),
    (lambda d: (d / "empty.mp4").write_bytes(b"") or d / "empty.mp4", "file is empty"),
    (lambda d: (d / "cut.mp4").write_bytes(
        write_video(d / "full.mp4", 40, 10).read_bytes()[:2000]) and d / "cut.mp4",
     "cannot decode video"),
    (lambda d: (d / "junk.mp4").write_text("junk " * 100) and d / "junk.mp4",
     "not a video format"),
    (lambda d: write_wav(d / "sound.wav"), "no video stream"),
    (lambda d: _png(d / "still.png"), "is an image"),
    (lambda d: _zero_frame_avi(d / "zero.avi"), "no frames"),
])
def test_bad_files(glmv, tmp_path, make, needle):
    path = make(tmp_path)
    _one_line_error(glmv("video", str(path), "q"), 3, needle, str(path))


@pytest.mark.parametrize(("args", "needle"), [
    (["--start", "1:75"], "--start '1:75'"),
    (["--end", "soon"], "--end 'soon' is not a time"),
    (["--start", "10"], "--start 0:10 is past the end"),
    (["--start", "4", "--end", "3"], "--end 0:03 is not after --start 0:04"),
])
def test_bad_ranges_are_usage_errors(glmv, clip, args, needle):
    _one_line_error(glmv("video", str(clip), "q", *args), 2, needle)


def test_stdin_is_refused(glmv, clip):
    _one_line_error(glmv("video", "-", "q", input=clip.read_bytes()), 2, "stdin")
