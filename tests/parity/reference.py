"""The reference's side of a parity case: transformers' GLM-4.1V, f32, on the same weights.

Images go through transformers' own Glm4vImageProcessor (its PIL backend: torchvision is
not needed, and the torchvision backend resizes with a different bicubic), videos through
its Glm4vVideoProcessor (frame sampling, pairing and patch layout; the frames are already
at a size its smart_resize keeps, so its torchvision resize is not needed either), and the
prompt is built as Glm4vProcessor builds it: the chat template, each `<|image|>` expanded
to the image's tokens, a video laid out pair by pair with its timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from transformers import AutoTokenizer, Glm4vForConditionalGeneration
from transformers.models.glm4v.image_processing_pil_glm4v import Glm4vImageProcessorPil
from transformers.models.glm4v.video_processing_glm4v import Glm4vVideoProcessor, smart_resize
from transformers.video_utils import VideoMetadata

# glmv opens the model's thinking itself, as the model always does first.
FORCED = "<think>"
PIXELS_PER_TOKEN = 28 * 28


@dataclass
class Output:
    """What the reference fed its model and what it made of it."""

    input_ids: list[int]
    image_mask: list[bool]  # which positions are image (or video frame) tokens
    positions: np.ndarray  # (3, n): M-RoPE temporal, height, width
    grids: list[tuple[int, int]]  # per image or pair: (tokens across, tokens down)
    embeddings: list[np.ndarray]  # per image or pair: (tokens, n_embd), in token order
    first_logits: np.ndarray
    greedy: list[int]
    step_logits: list[np.ndarray]  # before each greedy token


class Reference:
    """The HF checkpoint loaded once; `image` and `video` answer one case each."""

    def __init__(self, checkpoint: Path) -> None:
        torch.manual_seed(0)
        self.tokenizer = AutoTokenizer.from_pretrained(checkpoint)
        self.images = Glm4vImageProcessorPil.from_pretrained(checkpoint)
        self.videos = Glm4vVideoProcessor()
        self.model = Glm4vForConditionalGeneration.from_pretrained(
            checkpoint, dtype=torch.float32).eval()
        cfg = self.model.config
        self.image_token = cfg.image_token_id
        self.video_open, self.video_close = cfg.video_start_token_id, cfg.video_end_token_id

    def _template(self, content: list[dict]) -> str:
        messages = [{"role": "user", "content": content}]
        return self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True) + FORCED

    def image(self, paths: list[Path], question: str, max_tokens: int, n_new: int) -> Output:
        """Image files, EXIF orientation applied, handed to the processor in their own mode:
        its convert_rgb composites transparency onto white. (transformers' load_image, for
        paths and URLs, would drop the alpha channel instead, keeping the hidden colours.)
        """
        pictures = [ImageOps.exif_transpose(Image.open(p)) for p in paths]
        size = {"shortest_edge": self.images.size["shortest_edge"],
                "longest_edge": 2 * max_tokens * PIXELS_PER_TOKEN}  # glmv's budget
        px = self.images(images=pictures, size=size, return_tensors="pt")
        grid = px["image_grid_thw"]
        text = self._template([{"type": "image"}] * len(paths) + [{"type": "text",
                                                                   "text": question}])
        for thw in grid.tolist():
            n = thw[0] * thw[1] * thw[2] // 4
            text = text.replace("<|image|>", "<|placeholder|>" * n, 1)
        text = text.replace("<|placeholder|>", "<|image|>")
        ids = self.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
        types = (ids == self.image_token).to(torch.int32)
        inputs = {"pixel_values": px["pixel_values"], "image_grid_thw": grid,
                  "mm_token_type_ids": types}
        positions, _ = self.model.model.get_rope_index(ids, types, image_grid_thw=grid)
        grids = [(w // 2, h // 2) for _, h, w in grid.tolist()]
        return self._run(ids, types, positions, grids, inputs, n_new)

    def video(self, frames: np.ndarray, fps: float, question: str, n_new: int) -> Output:
        """A decoded clip (T, H, W, 3 RGB uint8) at `fps`, sampled by the reference."""
        t, h, w, _ = frames.shape
        meta = VideoMetadata(total_num_frames=t, fps=fps, duration=t / fps,
                             width=w, height=h)
        indices = self.videos.sample_frames(meta)
        picked = frames[indices]
        # The reference would resize to this; it is the frames' own size, so no resize.
        vs, vs_mean, vs_std = self.videos.size, self.videos.image_mean, self.videos.image_std
        assert smart_resize(len(indices), h, w, 2, 28, vs["shortest_edge"],
                            vs["longest_edge"]) == (h, w)
        # Rescaled and normalised here, as the processor would with torchvision.
        mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (vs_mean, vs_std))
        clip = (torch.from_numpy(picked).permute(0, 3, 1, 2).float() / 255 - mean) / std
        px = self.videos(videos=[clip], do_sample_frames=False, do_resize=False,
                         do_convert_rgb=False, do_rescale=False, do_normalize=False,
                         return_tensors="pt")
        grid = px["video_grid_thw"]
        pairs, gh, gw = grid[0].tolist()
        per_pair = gh * gw // 4
        stamps = [int(i / fps) for i in indices[::2]]  # the first frame of each pair
        layout = "".join(f"<|begin_of_image|>{'<|image|>' * per_pair}<|end_of_image|>{s}"
                         for s in stamps)
        text = self._template([{"type": "video"}, {"type": "text", "text": question}])
        text = text.replace("<|video|>", layout, 1)
        ids = self.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
        inside = torch.cumsum(ids == self.video_open, 1) > torch.cumsum(ids == self.video_close, 1)
        types = ((ids == self.image_token) & inside).to(torch.int32) * 2
        inputs = {"pixel_values_videos": px["pixel_values_videos"], "video_grid_thw": grid,
                  "mm_token_type_ids": types}
        positions, _ = self.model.model.get_rope_index(ids, types, video_grid_thw=grid)
        return self._run(ids, types, positions, [(gw // 2, gh // 2)] * pairs, inputs, n_new)

    def _run(self, ids: torch.Tensor, types: torch.Tensor, positions: torch.Tensor,
             grids: list[tuple[int, int]], inputs: dict, n_new: int) -> Output:
        with torch.no_grad():
            first = self.model(input_ids=ids, attention_mask=torch.ones_like(ids),
                               **inputs).logits[0, -1].float().numpy()
            out = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                      do_sample=False, max_new_tokens=n_new,
                                      repetition_penalty=1.0, return_dict_in_generate=True,
                                      output_logits=True, **inputs)
            if "pixel_values" in inputs:
                feats = self.model.model.get_image_features(
                    inputs["pixel_values"], inputs["image_grid_thw"]).pooler_output
            else:
                feats = self.model.model.get_video_features(
                    inputs["pixel_values_videos"], inputs["video_grid_thw"]).pooler_output
                feats = torch.cat(list(feats)).split(grids[0][0] * grids[0][1])  # per pair
        return Output(
            input_ids=ids[0].tolist(), image_mask=(types[0] > 0).tolist(),
            positions=positions[:, 0].numpy(), grids=grids,
            embeddings=[f.float().numpy() for f in feats], first_logits=first,
            greedy=out.sequences[0, ids.shape[1]:].tolist(),
            step_logits=[step[0].float().numpy() for step in out.logits],
        )


def rgb_frames(path: Path) -> tuple[np.ndarray, float]:
    """Every frame of a video as RGB, decoded with OpenCV, and its frame rate."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame[:, :, ::-1])
    cap.release()
    return np.stack(frames), fps

