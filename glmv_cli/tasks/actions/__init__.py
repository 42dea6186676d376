"""The GUI agent: prompts in the reference's agent formats, grammars that make the model's
answer a valid action, and parsing that answer into an action in screenshot pixels.

Platforms follow the GLM-4.1V reference (zai-org/GLM-V, examples/gui-agent/glm-41v):
mobile (AndroidWorld: JSON actions with `box_2d`), desktop (OSWorld: function calls with
`start_box` points) and web (WebVoyager: set-of-marks element labels).
"""

from typing import Literal

Platform = Literal["mobile", "desktop", "web"]
PLATFORMS: tuple[Platform, ...] = ("mobile", "desktop", "web")
