"""Reading a bundle from a .tar.gz: corrupt archives and unsafe members are refused."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from apibehave.bundle import BundleError, ReadLimits, load_bundle, pack_bundle, write_bundle

FIELDS = {
    "bundle_id": "archive-1",
    "params_hash": "sha256:params",
    "feature_spec_hash": "sha256:features",
    "training_data_digest": "sha256:data",
}


@pytest.fixture
def bundle_dir(tmp_path) -> Path:
    """A valid bundle directory."""
    return write_bundle(
        tmp_path / "b",
        {
            "thresholds.json": {"login": {"rate_1m": {"normal": 10, "extreme": 40}}},
            "models/model.onnx": bytes(range(256)) * 64,
        },
        FIELDS,
    )


@pytest.fixture
def archive(bundle_dir) -> Path:
    """The bundle packed as a .tar.gz."""
    return pack_bundle(bundle_dir)


def members_of(bundle_dir: Path) -> dict[str, bytes]:
    """The bundle's files as archive members under ``b/``."""
    return {
        f"b/{p.relative_to(bundle_dir).as_posix()}": p.read_bytes()
        for p in sorted(bundle_dir.rglob("*"))
        if p.is_file()
    }


def build_archive(path: Path, members: dict[str, bytes], extra: list[tarfile.TarInfo] = ()):
    """Write a .tar.gz of regular-file members plus hand-made special members."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info)
    return path


def refusal(path: Path, **kwargs: object) -> str:
    """Load ``path``, expect a BundleError, and return its one-line message."""
    with pytest.raises(BundleError) as caught:
        load_bundle(path, **kwargs)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_packed_archive_loads(archive):
    """The archive written by pack loads and verifies."""
    assert load_bundle(archive).manifest.bundle_id == "archive-1"


def test_archive_without_a_top_directory_loads(bundle_dir, tmp_path):
    """An archive with the bundle's files at its root (or under ./) also loads."""
    members = {name.replace("b/", "./", 1): data for name, data in members_of(bundle_dir).items()}
    path = build_archive(tmp_path / "flat.tar.gz", members)
    assert load_bundle(path).read_json("thresholds.json")["login"]["rate_1m"]["extreme"] == 40


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.99])
def test_truncated_archive_is_refused(archive, keep):
    """An archive cut short anywhere is refused as corrupt or truncated."""
    data = archive.read_bytes()
    archive.write_bytes(data[: int(len(data) * keep)])
    assert refusal(archive).startswith(f"corrupt or truncated bundle archive {archive}")


def test_archive_missing_only_its_gzip_trailer_is_refused(archive):
    """Dropping just the gzip CRC and length trailer is still detected."""
    archive.write_bytes(archive.read_bytes()[:-4])
    assert refusal(archive).startswith("corrupt or truncated bundle archive")


@pytest.mark.parametrize("where", [0.2, 0.4, 0.6, 0.8])
def test_flipped_bit_inside_the_compressed_stream_is_refused(archive, where):
    """A bit flipped inside the compressed data fails decompression or the gzip CRC."""
    data = bytearray(archive.read_bytes())
    body_start, body_end = 10, len(data) - 9  # gzip header; last deflate byte and trailer
    data[body_start + int((body_end - body_start) * where)] ^= 0x10
    archive.write_bytes(bytes(data))
    with pytest.raises(BundleError):
        load_bundle(archive)


def test_tampered_member_in_a_well_formed_archive_is_refused(bundle_dir, tmp_path):
    """A re-packed archive with an edited payload fails that payload's checksum."""
    members = members_of(bundle_dir)
    members["b/thresholds.json"] = members["b/thresholds.json"].replace(b"40", b"99")
    path = build_archive(tmp_path / "t.tar.gz", members)
    assert refusal(path).startswith("checksum mismatch: thresholds.json")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("b/../evil.json", "path leaving the bundle refused: 'b/../evil.json'"),
        ("../evil.json", "path leaving the bundle refused: '../evil.json'"),
        ("/etc/evil.json", "absolute path refused in bundle: '/etc/evil.json'"),
        ("b\\..\\evil.json", "bad file name in bundle"),
    ],
)
def test_path_traversal_member_is_refused(bundle_dir, tmp_path, name, expected):
    """A member whose name escapes the bundle is refused before anything is used."""
    members = {**members_of(bundle_dir), name: b"{}"}
    path = build_archive(tmp_path / "evil.tar.gz", members)
    assert refusal(path).startswith(expected)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (tarfile.SYMTYPE, "link refused"),
        (tarfile.LNKTYPE, "link refused"),
        (tarfile.CHRTYPE, "special file refused"),
        (tarfile.BLKTYPE, "special file refused"),
        (tarfile.FIFOTYPE, "special file refused"),
    ],
)
def test_links_and_device_members_are_refused(bundle_dir, tmp_path, kind, expected):
    """Symbolic links, hard links, devices and FIFOs inside an archive are refused."""
    info = tarfile.TarInfo("b/thresholds2.json")
    info.type = kind
    info.linkname = "/etc/passwd" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
    path = build_archive(tmp_path / "odd.tar.gz", members_of(bundle_dir), [info])
    message = refusal(path)
    assert expected in message and "b/thresholds2.json" in message


def test_duplicate_member_is_refused(bundle_dir, tmp_path):
    """The same name twice in an archive is refused (the second could shadow the first)."""
    members = members_of(bundle_dir)
    path = tmp_path / "dup.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in [*members.items(), ("b/thresholds.json", b"{}")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    assert "thresholds.json appears twice" in refusal(path)


def test_archive_with_two_top_directories_is_refused(bundle_dir, tmp_path):
    """An archive must hold exactly one bundle directory."""
    members = {**members_of(bundle_dir), "other/x.json": b"{}"}
    path = build_archive(tmp_path / "two.tar.gz", members)
    assert "the archive must hold one bundle directory" in refusal(path)


def test_oversized_member_is_refused(archive):
    """A member over the per-file limit is refused before it is read."""
    message = refusal(archive, limits=ReadLimits(max_file_bytes=1000))
    assert "models/model.onnx is 16384 bytes, over the 1000-byte limit" in message


def test_too_many_members_are_refused(archive):
    """An archive with more members than the limit is refused."""
    assert "more than 2 files" in refusal(archive, limits=ReadLimits(max_files=2))


def test_decompression_bomb_is_refused(tmp_path):
    """A small archive that expands far beyond the size limit is refused while reading."""
    path = tmp_path / "bomb.tar.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(bytes(20 * 1024**2))
    assert path.stat().st_size < 100_000
    limits = ReadLimits(max_total_bytes=1024**2, max_files=10)
    assert refusal(path, limits=limits) == f"{path}: archive expands beyond the size limit"


def test_directory_bundles_obey_the_same_limits(bundle_dir):
    """A directory bundle with a file over the limit is refused too."""
    message = refusal(bundle_dir, limits=ReadLimits(max_file_bytes=1000))
    assert "over the 1000-byte limit" in message


def test_gzip_of_something_that_is_not_tar_is_refused(tmp_path):
    """A gzip file that holds no tar archive is refused as corrupt."""
    path = tmp_path / "x.tar.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b"hello, this is not a tar archive" * 40)
    assert refusal(path).startswith("corrupt or truncated bundle archive")


def test_archive_without_a_manifest_says_so(tmp_path):
    """An archive of loose files without a manifest is refused as not a bundle."""
    path = build_archive(tmp_path / "loose.tar.gz", {"thresholds.json": b"{}", "m/x.json": b"{}"})
    assert refusal(path).startswith("not a bundle: manifest.json is missing")
