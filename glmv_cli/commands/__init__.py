"""One module per command: parse, call the engine, render. No logic of their own."""
