"""Downloading an entry's pair from the Hugging Face Hub, safely.

The repo's listing decides which files make the pair (hub.py); huggingface-hub does the
transfer (its cache, HF_HOME, HF_TOKEN, HF_ENDPOINT and HF_HUB_OFFLINE all apply): it
resumes a dropped connection with a Range request, writes each download to a temporary
file and renames it only when complete. A run that is stopped (Ctrl-C, kill) leaves
nothing behind, so the next pull starts over. glmv adds what a multi-GB download needs
around that: a disk-space check before starting, sha256 verification against the
registry or else the Hub's LFS metadata, progress on a terminal, a record of what was
pulled (pulls.py), a check that the pair can see images (gguf_check.py), and errors that
say what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glmv_cli import paths
from glmv_cli.errors import DownloadError, ModelError, UsageError
from glmv_cli.models import hub
from glmv_cli.models.gguf_check import Finding, find_problem
from glmv_cli.models.pulls import FileRecord, PullRecord, pull_for, record_pull
from glmv_cli.models.registry import ModelEntry
from glmv_cli.models.sizes import human_size
from glmv_cli.models.store import Part, locate, problems, remove_cached, sha256_of

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
    verified: bool  # its sha256 was checked (against the registry, else the Hub's)
    sha256: str | None = None  # what it was checked against


@dataclass(frozen=True)
class Pulled:
    """A finished pull: the files (text GGUF, mmproj, further split parts), where they
    came from, and what is wrong with the pair if it cannot see images right."""

    files: list[PulledFile]
    repo: str
    revision: str  # the commit
    problem: Finding | None = None

    def raise_problem(self, name: str) -> None:
        """ModelError for a pair that downloaded fine but cannot be used."""
        if self.problem is not None:
            hint = (self.problem.hint + "; " if self.problem.hint else "")
            raise ModelError(f"{name}: {self.problem.message}",
                             hint=f"{hint}the files stay in the HF cache until `glmv rm {name}`")


def pull(entry: ModelEntry, bars: BarsFor | None = None) -> list[PulledFile]:
    """Make both files of `entry` present and whole in the HF cache, and check them as a
    pair; the text GGUF's path comes first, the mmproj's second (then further parts of a
    split text GGUF)."""
    pulled = pull_pair(entry, bars)
    pulled.raise_problem(entry.name)
    return pulled.files


def pull_pair(entry: ModelEntry, bars: BarsFor | None = None, exact: bool = False) -> Pulled:
    """Resolve `entry` against its repo's listing, download what is missing, verify it,
    record it, and check that the pair can see images (a `problem` if not: the verified
    files are kept, and recorded). With `exact`, the entry's file names must be in the
    repo, not just hints."""
    if entry.repo is None:
        raise UsageError(f"'{entry.name}' is not a Hub model: its files are "
                         + ("part of glmv" if entry.builtin else "local paths"))
    from huggingface_hub import constants

    _quiet_hub_logs()
    if constants.HF_HUB_OFFLINE:
        done = _already_pulled(entry)
    else:
        listing = list_files(entry)
        pair = hub.choose(listing, entry.quant, entry.file, entry.mmproj, exact)
        done = _fetch(entry, listing, pair, bars)
    problem = find_problem(done.files[0].path, done.files[1].path, file_names=True)
    return Pulled(done.files, done.repo, done.revision, problem)


def _already_pulled(entry: ModelEntry) -> Pulled:
    """Offline: the files already in the cache (as a previous pull recorded them, else by
    the registry's names), verified; no listing is possible."""
    assert entry.repo is not None
    parts = locate(entry)
    if not all(p.path for p in parts):
        raise DownloadError(
            f"cannot download {entry.name}: offline mode is on (HF_HUB_OFFLINE)",
            hint="unset HF_HUB_OFFLINE to download",
        )
    files = [_verified_present(entry, p) for p in parts]
    record = pull_for(entry)
    return Pulled(files, entry.repo, record.revision if record else entry.revision)


def _fetch(entry: ModelEntry, listing: hub.Listing, pair: hub.Pair,
           bars: BarsFor | None) -> Pulled:
    assert entry.repo is not None
    # Order as locate() gives it: text GGUF, mmproj, further split parts.
    remote = [pair.model[0], pair.mmproj, *pair.model[1:]]
    given = {name: sha for name, _size, sha in entry.parts() if sha}
    for f in remote:  # the registry's sha256 wins: a Hub file that differs is not fetched
        if f.name in given and f.sha256 and f.sha256 != given[f.name]:
            raise DownloadError(
                f"checksum mismatch for {f.name}: the Hub lists sha256 {f.sha256}, the "
                f"registry expects {given[f.name]}; nothing was downloaded",
                hint="the file on the Hub changed or the registry entry is wrong")
    parts = [Part(f.name, _cached(entry.repo, f.name, listing.commit), f.size,
                  given.get(f.name, f.sha256)) for f in remote]
    _check_disk_space(sum(p.expected_size or 0 for p in parts if p.path is None))

    done: list[PulledFile] = []
    for part in parts:
        if part.path is not None:
            done.append(_verified_present(entry, part))
            continue
        path = _download(entry.repo, listing.commit, part.name,
                         bars(part.name) if bars else None)
        if part.sha256:
            digest = sha256_of(path)
            if digest != part.sha256:
                remove_cached(path)  # ours, just downloaded: never leave a bad model in place
                source = "the registry" if part.name in given else "the Hub"
                raise DownloadError(
                    f"checksum mismatch for {part.name}: sha256 {digest}, {source} "
                    f"expects {part.sha256}; the download was deleted",
                    hint="the file on the Hub changed or the registry entry is wrong"
                    if source == "the registry" else "the transfer was corrupted; pull again",
                )
        done.append(PulledFile(part.name, path, path.stat().st_size, True,
                               part.sha256 is not None, part.sha256))
    # Keyed by the entry's own quant: a record stays valid while the entry asks for it.
    record_pull(PullRecord(
        entry.name, entry.repo, listing.commit, entry.quant,
        tuple(FileRecord(f.name, f.size, f.sha256) for f in [done[0], *done[2:]]),
        FileRecord(done[1].name, done[1].size, done[1].sha256)))
    return Pulled(done, entry.repo, listing.commit)


def _verified_present(entry: ModelEntry, part: Part) -> PulledFile:
    """A file already in the cache: whole and, where its sha256 is known, the same."""
    assert part.path is not None
    bad = problems(part, verify_hash=True)
    if bad:
        raise DownloadError(
            f"{part.name} is already in the cache but damaged: {'; '.join(bad)}",
            hint=f"glmv rm {entry.name}, then pull again",
        )
    return PulledFile(part.name, part.path, part.path.stat().st_size, False,
                      part.sha256 is not None, part.sha256)


def list_files(entry: ModelEntry) -> hub.Listing:
    """The files of `entry`'s repo at its revision, from the Hub; DownloadError if the Hub
    cannot tell."""
    if entry.repo is None:
        raise UsageError(f"'{entry.name}' is not a Hub model")
    _quiet_hub_logs()
    try:
        return hub.list_repo(entry.repo, entry.revision)
    except Exception as e:
        raise _explain(e, entry.repo, entry.revision, f"the files of {entry.repo}") from None


def _cached(repo: str, filename: str, revision: str) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo, filename, revision=revision)
    return Path(found) if isinstance(found, str) and Path(found).is_file() else None


def _download(repo: str, revision: str, filename: str, bar: BarFactory | None) -> Path:
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(repo, filename, revision=revision,
                                    tqdm_class=bar or _NoBar))  # type: ignore[arg-type]
    except Exception as e:
        raise _explain(e, repo, revision, f"{repo}/{filename}") from None


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


def _explain(e: Exception, repo: str, revision: str, where: str) -> DownloadError:
    """One line for each way a Hub listing or download fails; `where` names what was
    being fetched."""
    from huggingface_hub import errors as hf

    if isinstance(e, hf.GatedRepoError):
        return DownloadError(f"{repo} is gated: accept its terms on the Hub first",
                             hint="then set HF_TOKEN or run `hf auth login`")
    if isinstance(e, hf.RepositoryNotFoundError):
        return DownloadError(f"repository {repo} not found (or private)",
                             hint="check the name; private repos need HF_TOKEN")
    if isinstance(e, hf.RevisionNotFoundError):
        return DownloadError(f"revision '{revision}' not found in {repo}")
    if isinstance(e, hf.EntryNotFoundError | hf.RemoteEntryNotFoundError):
        return DownloadError(f"{where} not found on the Hub",
                             hint="it was listed a moment ago: the repo changed; pull again")
    if isinstance(e, hf.OfflineModeIsEnabled):
        return DownloadError(f"cannot fetch {where}: offline mode is on (HF_HUB_OFFLINE)")
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
        return DownloadError(f"connection to the Hub failed for {where}: {e}",
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
