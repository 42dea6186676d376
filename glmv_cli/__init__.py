"""glmv: local visual reasoning with GLM-4.1V-Thinking through llama.cpp."""

__version__ = "0.1.0"
VERSION_LINE = f"glmv {__version__}"  # what `glmv --version` prints
