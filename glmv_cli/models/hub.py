"""What a Hub repository holds, and which of its files make the pair to pull.

A registry entry names a repo and a quant; the file names it gives are hints. At pull time
the repo's listing (one `model_info` call through huggingface-hub, with each file's size
and LFS sha256) decides, the way llama.cpp's own `-hf repo:quant` does: the text GGUF is
the file tagged with the quant (case-insensitive, split files `-00001-of-0000N.gguf`
included), the projector is the hinted name when the repo has it, else a file with
`mmproj` in its name, F16 before BF16 before Q8_0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from glmv_cli.errors import DownloadError
from glmv_cli.models.sizes import human_size

DEFAULT_QUANT = "Q4_K_M"
MMPROJ_PREFERENCE = ("F16", "BF16", "Q8_0")  # full precision first: the encoder is small
_SPLIT = re.compile(r"^(?P<stem>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})$", re.IGNORECASE)
_TAG = re.compile(r"[-.](?P<tag>[A-Za-z0-9_]+)$")
_NOT_TEXT = ("mmproj", "imatrix")  # GGUFs in a model repo that are not the text model


_SPEC = re.compile(r"hf:(?P<repo>[\w.-]+/[\w.-]+)(?::(?P<quant>[\w.-]+))?"
                   r"(?:@(?P<revision>[^\s:@]+))?")


@dataclass(frozen=True)
class HubSpec:
    """`hf:OWNER/REPO[:QUANT][@REVISION]` taken apart."""

    repo: str
    quant: str | None
    revision: str | None


def parse_spec(spec: str) -> HubSpec | None:
    """The parts of an `hf:` model spec, or None if `spec` is not one."""
    m = _SPEC.fullmatch(spec)
    return HubSpec(m["repo"], m["quant"], m["revision"]) if m else None


@dataclass(frozen=True)
class RemoteFile:
    """One file in a repo: path inside it, size, and the sha256 of its LFS object."""

    name: str
    size: int | None
    sha256: str | None


@dataclass(frozen=True)
class Listing:
    """A repo's files at one commit."""

    repo: str
    revision: str  # as asked for (a branch, a tag or a commit)
    commit: str  # what it pointed at
    files: tuple[RemoteFile, ...]


@dataclass(frozen=True)
class Quant:
    """One text-model build in a repo: its tag, its files (split parts in order), size."""

    tag: str
    files: tuple[RemoteFile, ...]

    @property
    def size(self) -> int:
        return sum(f.size or 0 for f in self.files)


@dataclass(frozen=True)
class Pair:
    """The files to pull: the text GGUF (one file or its split parts) and its mmproj."""

    quant: str
    model: tuple[RemoteFile, ...]
    mmproj: RemoteFile


def list_repo(repo: str, revision: str) -> Listing:
    """The repo's files, sizes and LFS sha256 at `revision`, from the Hub (may raise
    huggingface-hub's errors)."""
    from huggingface_hub import HfApi

    info = HfApi().model_info(repo, revision=revision, files_metadata=True)
    files = tuple(
        RemoteFile(s.rfilename, s.size if s.size is not None else (s.lfs.size if s.lfs else None),
                   s.lfs.sha256 if s.lfs else None)
        for s in info.siblings or ())
    return Listing(repo, revision, info.sha or revision, files)


def split_parts(name: str) -> tuple[str, int, int]:
    """(name without `.gguf` and split suffix, part number, part count) of a GGUF name."""
    stem = name[:-5] if name.lower().endswith(".gguf") else name
    m = _SPLIT.match(stem)
    if m:
        return m["stem"], int(m["index"]), int(m["count"])
    return stem, 1, 1


def quant_tag(name: str) -> str | None:
    """The quant a file name ends with (`…-Q4_K_M.gguf` → `Q4_K_M`), upper-case."""
    m = _TAG.search(PurePosixPath(split_parts(name)[0]).name)
    return m["tag"].upper() if m else None


def is_text_gguf(name: str) -> bool:
    base = PurePosixPath(name).name.lower()
    return base.endswith(".gguf") and not any(word in base for word in _NOT_TEXT)


def is_mmproj(name: str) -> bool:
    base = PurePosixPath(name).name.lower()
    return base.endswith(".gguf") and "mmproj" in base


def quants(listing: Listing) -> list[Quant]:
    """Every text-model build in the repo, by tag, in the repo's order."""
    found: dict[str, Quant] = {}
    for f in listing.files:
        if not is_text_gguf(f.name) or split_parts(f.name)[1] != 1:
            continue
        tag = quant_tag(f.name) or PurePosixPath(f.name).stem
        if tag not in found:
            found[tag] = Quant(tag, _group(listing, f))
    return list(found.values())


def mmprojs(listing: Listing) -> list[RemoteFile]:
    return [f for f in listing.files if is_mmproj(f.name)]


def choose(listing: Listing, quant: str, file_hint: str = "", mmproj_hint: str = "",
           exact: bool = False) -> Pair:
    """The pair for `quant`; a hinted name wins when the repo has that file. With `exact`,
    the hinted names are requirements (a person typed them)."""
    if exact:
        names = {f.name for f in listing.files}
        if file_hint and file_hint not in names:
            raise DownloadError(f"{file_hint} is not in {listing.repo}; its builds: "
                                f"{describe_quants(listing)}")
        if mmproj_hint and mmproj_hint not in names:
            have = ", ".join(f.name for f in mmprojs(listing)) or "none"
            raise DownloadError(f"{mmproj_hint} is not in {listing.repo}; its projectors: "
                                f"{have}")
    model = _find_model(listing, quant, file_hint)
    return Pair(quant_tag(model[0].name) or quant.upper(), model,
                _find_mmproj(listing, model[0].name, mmproj_hint))


def describe_quants(listing: Listing) -> str:
    """`Q4_K_M (6.2 GB), Q8_0 (10.0 GB)`, for messages."""
    return ", ".join(f"{q.tag} ({human_size(q.size)})" for q in quants(listing)) or "none"


def _find_model(listing: Listing, quant: str, hint: str) -> tuple[RemoteFile, ...]:
    by_name = {f.name: f for f in listing.files}
    if hint and hint in by_name and is_text_gguf(hint):
        return _group(listing, by_name[hint])
    wanted = quant.upper()
    tagged = re.compile(r"(?<![A-Za-z0-9])" + re.escape(wanted) + r"(?=[.-])", re.IGNORECASE)
    firsts = [f for f in listing.files if is_text_gguf(f.name)
              and split_parts(f.name)[1] == 1 and tagged.search(PurePosixPath(f.name).name)]
    if not firsts:
        raise DownloadError(
            f"{listing.repo} has no {wanted} build; it has: {describe_quants(listing)}",
            hint=f"`glmv models --remote hf:{listing.repo}` lists its files")
    # The repo's top folder first, then an exact tag (Q4_K_M before UD-Q4_K_M), then name.
    best = min(firsts, key=lambda f: (f.name.count("/"), quant_tag(f.name) != wanted, f.name))
    return _group(listing, best)


def _group(listing: Listing, first: RemoteFile) -> tuple[RemoteFile, ...]:
    """`first` and, for a split GGUF, its other parts in order; all must be there."""
    stem, _, count = split_parts(first.name)
    if count == 1:
        return (first,)
    parts = {split_parts(f.name)[1]: f for f in listing.files
             if split_parts(f.name)[0] == stem and split_parts(f.name)[2] == count}
    missing = [i for i in range(1, count + 1) if i not in parts]
    if missing:
        raise DownloadError(f"{listing.repo}: {PurePosixPath(stem).name} is split in {count} "
                            f"parts but part {missing[0]} is not in the repo")
    return tuple(parts[i] for i in range(1, count + 1))


def _find_mmproj(listing: Listing, model: str, hint: str) -> RemoteFile:
    candidates = mmprojs(listing)
    for f in candidates:
        if f.name == hint:
            return f
    if not candidates:
        raise DownloadError(f"{listing.repo} has no vision projector (no file with 'mmproj' "
                            "in its name)", hint="glmv needs a GGUF pair: text model + mmproj")
    folder = str(PurePosixPath(model).parent)

    def rank(f: RemoteFile) -> tuple[bool, int, str]:
        tag = quant_tag(f.name)
        order = MMPROJ_PREFERENCE.index(tag) if tag in MMPROJ_PREFERENCE else len(
            MMPROJ_PREFERENCE)
        return str(PurePosixPath(f.name).parent) != folder, order, f.name

    return min(candidates, key=rank)
