"""Events folded into the final result: what `--json`, exit codes and later `batch` need."""

from __future__ import annotations

from dataclasses import dataclass, field

from glmv_cli.engine.events import Answer, Box, Done, Event, Thinking


@dataclass
class Transcript:
    thinking: str = ""
    answer: str = ""
    boxes: list[Box] = field(default_factory=list)
    done: Done | None = None

    def add(self, event: Event) -> None:
        if isinstance(event, Thinking):
            self.thinking += event.text
        elif isinstance(event, Answer):
            self.answer += event.text
        elif isinstance(event, Box):
            self.boxes.append(event)
        elif isinstance(event, Done):
            self.done = event
