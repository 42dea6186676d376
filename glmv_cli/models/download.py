"""Downloading an entry's pair from the Hugging Face Hub, safely.

huggingface-hub does the transfer (its cache, HF_HOME, HF_TOKEN, HF_ENDPOINT and
HF_HUB_OFFLINE all apply): it resumes a dropped connection with a Range request, writes to
a temporary file of its own and renames it into the cache only when complete. A run that
is stopped (Ctrl-C, kill) leaves nothing behind, so the next pull starts over. glmv adds what a
multi-GB download needs around that: a disk-space check before starting, sha256
verification where the registry knows the hash, progress on a terminal, and errors that
say what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glmv_cli import paths
from glmv_cli.errors import DownloadError, UsageError
from glmv_cli.models.registry import ModelEntry
from glmv_cli.models.store import locate, problems, remove_cached, sha256_of

DISK_MARGIN = 256 << 20  # leave room for the cache's own files and the rest of the system

# Makes a progress bar for one file; called by huggingface-hub like a tqdm class.
BarFactory = Callable[..., Any]
# The bar factory for a file name.
BarsFor = Callable[[str], BarFactory]


@dataclass(frozen=True)
class PulledFile:
    name: str
    path: Path
    size: int
    downloaded: bool  # False: it was already in the cache
    verified: bool  # its sha256 was checked against the registry


def pull(entry: ModelEntry, bars: BarsFor | None = None) -> list[PulledFile]:
    """Make both files of `entry` present and whole in the HF cache."""
    if entry.repo is None:
        raise UsageError(f"'{entry.name}' is not a Hub model: its files are "
                         + ("part of glmv" if entry.builtin else "local paths"))
    from huggingface_hub import constants

    _quiet_hub_logs()
    parts = locate(entry)
    missing = [p for p in parts if p.path is None]
    if missing and constants.HF_HUB_OFFLINE:
        raise DownloadError(
            f"cannot download {entry.name}: offline mode is on (HF_HUB_OFFLINE)",
            hint="unset HF_HUB_OFFLINE to download",
        )
    sizes = {p.name: _remote_size(entry, p.name) for p in missing}
    _check_disk_space(sum(need for need in sizes.values()))

    done: list[PulledFile] = []
    for part in parts:
        if part.path is not None:
            bad = problems(part, verify_hash=True)
            if bad:
                raise DownloadError(
                    f"{part.name} is already in the cache but damaged: {'; '.join(bad)}",
                    hint=f"glmv rm {entry.name}, then pull again",
                )
            done.append(PulledFile(part.name, part.path, part.path.stat().st_size, False,
                                   part.sha256 is not None))
            continue
        path = _download(entry, part.name, bars(part.name) if bars else None)
        verified = False
        if part.sha256:
            digest = sha256_of(path)
            if digest != part.sha256:
                remove_cached(path)  # ours, just downloaded: never leave a bad model in place
                raise DownloadError(
                    f"checksum mismatch for {part.name}: sha256 {digest}, the registry "
                    f"expects {part.sha256}; the download was deleted",
                    hint="the file on the Hub changed or the registry entry is wrong",
                )
            verified = True
        done.append(PulledFile(part.name, path, path.stat().st_size, True, verified))
    return done


def _download(entry: ModelEntry, filename: str, bar: BarFactory | None) -> Path:
    from huggingface_hub import hf_hub_download

    assert entry.repo is not None
    try:
        return Path(hf_hub_download(entry.repo, filename, revision=entry.revision,
                                    tqdm_class=bar or _NoBar))  # type: ignore[arg-type]
    except Exception as e:
        raise _explain(e, entry, filename) from None


def _remote_size(entry: ModelEntry, filename: str) -> int:
    """Bytes to fetch for one file: its size on the Hub. (huggingface-hub 2.x keeps no
    partial file between runs, so there is nothing to subtract.)"""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    assert entry.repo is not None
    try:
        meta = get_hf_file_metadata(hf_hub_url(entry.repo, filename, revision=entry.revision))
    except Exception as e:
        raise _explain(e, entry, filename) from None
    return meta.size or 0


def _check_disk_space(need: int) -> None:
    if need <= 0:
        return
    target = paths.hf_cache_dir()
    free = paths.free_bytes(target)
    if free < need + DISK_MARGIN:
        raise DownloadError(
            f"not enough disk space in {target}: the download needs {human_size(need)}, "
            f"{human_size(free)} is free",
            hint="free some space, or point HF_HOME at a bigger disk",
        )


def _explain(e: Exception, entry: ModelEntry, filename: str) -> DownloadError:
    """One line for each way a Hub download fails."""
    from huggingface_hub import errors as hf

    where = f"{entry.repo}/{filename}"
    if isinstance(e, hf.GatedRepoError):
        return DownloadError(f"{entry.repo} is gated: accept its terms on the Hub first",
                             hint="then set HF_TOKEN or run `hf auth login`")
    if isinstance(e, hf.RepositoryNotFoundError):
        return DownloadError(f"repository {entry.repo} not found (or private)",
                             hint="check the name; private repos need HF_TOKEN")
    if isinstance(e, hf.RevisionNotFoundError):
        return DownloadError(f"revision '{entry.revision}' not found in {entry.repo}")
    if isinstance(e, hf.EntryNotFoundError | hf.RemoteEntryNotFoundError):
        return DownloadError(f"{filename} not found in {entry.repo}",
                             hint=f"the registry entry '{entry.name}' may be out of date")
    if isinstance(e, hf.OfflineModeIsEnabled):
        return DownloadError(f"cannot download {where}: offline mode is on (HF_HUB_OFFLINE)")
    if isinstance(e, hf.LocalEntryNotFoundError):
        return DownloadError(f"cannot reach the Hub to download {where}",
                             hint="check the network, then pull again")
    if isinstance(e, hf.HfHubHTTPError):
        status = e.response.status_code if e.response is not None else "?"
        return DownloadError(f"the Hub answered HTTP {status} for {where}")
    if isinstance(e, OSError):
        reason = e.strerror or str(e).splitlines()[0]
        return DownloadError(f"download of {where} failed: {reason}",
                             hint="run the pull again")
    name = type(e).__name__
    if name.endswith(("ConnectError", "TimeoutException", "RemoteProtocolError", "ReadError")):
        return DownloadError(f"connection to the Hub failed while downloading {where}: {e}",
                             hint="run the pull again")
    raise e


def _quiet_hub_logs() -> None:
    # huggingface-hub logs retries ("Trying to resume download...") as warnings; glmv
    # reports what matters itself.
    from huggingface_hub.utils import logging as hf_logging

    hf_logging.set_verbosity_error()


class _NoBar:
    """A progress bar that shows nothing (output piped, or no terminal)."""

    def __init__(self, **_: Any) -> None:
        pass

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def human_size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"
