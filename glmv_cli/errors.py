"""Error types and exit codes, in one table: every failure a user can cause maps here."""

from __future__ import annotations

from enum import IntEnum
from types import CodeType


class ExitCode(IntEnum):
    """Process exit codes; documented in the README and in `glmv --help`."""

    OK = 0
    FAILURE = 1  # a bug in glmv: please report it
    USAGE = 2  # bad flags or arguments (Typer's own code), or a bad config/registry file
    INPUT = 3  # a file or stdin that cannot be read as an image
    MODEL = 4  # model file missing, not a GGUF, or mmproj that does not match
    CONTEXT = 5  # the prompt does not fit the model's context window
    DOWNLOAD = 6  # a download failed: network, not found, checksum, disk space, offline
    SELF_TEST = 7  # `glmv doctor`: the self-test failed
    ANSWER = 8  # the model's answer could not be used: cut off, or no action/code in it
    WRITE = 9  # an output file could not be written
    REMOTE = 10  # the remote engine is unreachable or refused the request
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
    TERMINATED = 143  # SIGTERM (128 + 15): stopped like Ctrl-C, outputs left whole


EXIT_CODE_HELP = (
    "Exit codes: 0 ok, 1 internal error, 2 usage or config error, 3 input error (unreadable "
    "file), 4 model error (missing or mismatched model files), 5 context overflow, "
    "6 download failed, 7 self-test failed, 8 the answer could not be used (cut off, or "
    "no action or code in it), 9 an output file could not be written, 10 the remote engine "
    "is unreachable or refused the request, 130 interrupted, 143 terminated (SIGTERM)."
)


# Worker threads that run native code (llama.cpp, mtmd) are named with this prefix; after
# Ctrl-C, one still alive means the process must exit without running native destructors.
NATIVE_THREAD = "glmv-native"

# Code of the Python functions that native code calls back through ctypes (llama.cpp's log
# callback). An exception raised in one is printed and dropped by ctypes, so a Ctrl-C that
# arrives while one runs must be delivered again once it has returned.
NATIVE_CALLBACKS: set[CodeType] = set()


class GlmvError(Exception):
    """An error with a one-line message for the user and an exit code."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __reduce__(self) -> tuple[type, tuple[str, str | None]]:
        # Raised in a decoder process and re-raised in glmv's (inputs/worker.py): keep the
        # hint, which the default pickling of exceptions would drop.
        return type(self), (self.message, self.hint)


class UsageError(GlmvError):
    exit_code = ExitCode.USAGE


class InputError(GlmvError):
    exit_code = ExitCode.INPUT


class ModelError(GlmvError):
    exit_code = ExitCode.MODEL


class ContextOverflowError(GlmvError):
    exit_code = ExitCode.CONTEXT


class ConfigError(GlmvError):
    """A config.toml or models.toml that cannot be used; the message names file and line."""

    exit_code = ExitCode.USAGE


class DownloadError(GlmvError):
    exit_code = ExitCode.DOWNLOAD


class SelfTestFailed(GlmvError):
    exit_code = ExitCode.SELF_TEST


class AnswerError(GlmvError):
    """The model answered, but not in a form the command can use: cut off by --max-tokens,
    or without the action, code or boxes the command needs."""

    exit_code = ExitCode.ANSWER


class WriteError(GlmvError):
    """An output file (--draw, `code -o`, a transcript) could not be written."""

    exit_code = ExitCode.WRITE


class RemoteError(GlmvError):
    """A remote engine failed one request: retries used up on 429/5xx or timeouts, a
    stream that broke off, an answer the server would not give."""

    exit_code = ExitCode.REMOTE


class RemoteUnavailable(RemoteError):
    """The remote engine cannot be used at all: nothing listens at the address, or the
    server refuses the key or the model. A batch stops rather than fail every input."""


class Interrupted(BaseException):
    """Ctrl-C, or SIGTERM. Raised from the signal handler instead of KeyboardInterrupt, so
    that Typer's Click layer (which turns KeyboardInterrupt into 'Aborted!' and exit 1) lets
    it through. Both signals stop glmv the same way (outputs are left whole); main() tells
    them apart by their exit codes.

    Not a GlmvError, nor even an Exception: code that reports failures (`except
    Exception`, a self-test) must never swallow the user's Ctrl-C.
    """

    exit_code = ExitCode.INTERRUPTED

    def __init__(self) -> None:
        super().__init__("interrupted")


class OutputClosed(Exception):
    """The reader of stdout went away (`| head -1`). Not an error: glmv stops quietly.

    Raised in place of BrokenPipeError, which Typer's Click layer would turn into exit 1.
    """
