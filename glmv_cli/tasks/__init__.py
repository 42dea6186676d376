"""Per-task logic: what a command asks the model and what it makes of the answer.

documents (PDF planning, map-reduce, citations), grounding (boxes), actions (the GUI
agent), code (UI-to-code blocks), video (frame planning). Nothing here knows Typer or
Rich: tasks take and return plain data and engine events.
"""
