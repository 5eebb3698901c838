"""The importer against the reference implementations, plus its streaming and safety properties."""

from __future__ import annotations

import io
import os
import tracemalloc

import pytest

from evidence import pb
from evidence.cids import cid_str
from evidence.errors import DirectoryTooLarge, UnsafePath, UploadTooLarge
from evidence.importer import (
    BUFFER_BYTES,
    MAP_MIN_BYTES,
    PROFILES,
    RING,
    FileImporter,
    Profile,
    directory_node,
    import_bytes,
    import_file,
    import_path,
    import_tree,
    split_path,
)
from tests.evidence.support import FILE_SIZES, KIB, MIB, js_cids, kubo_cids

CORPUS = [*FILE_SIZES, "zeros-600k.bin", "เอกสาร-หลักฐาน.txt", "bundle-tree"]


@pytest.mark.parametrize("profile", ["kubo-v1", "unixfs-v1-2025"])
@pytest.mark.parametrize("name", CORPUS)
def test_cid__matches_js_reference_importer(corpus, js_reference, profile, name):
    path = corpus[name]
    assert cid_str(import_path(path, profile).cid) == js_reference[profile][str(path)]


@pytest.mark.parametrize("name", CORPUS)
def test_cid__kubo_v0__matches_real_kubo(corpus, kubo_reference, name):
    path = corpus[name]
    assert cid_str(import_path(path, "kubo-v0", hidden=True).cid) == kubo_reference[str(path)]


def test_cid__symlink_and_dotfiles__match_real_kubo(tmp_path):
    tree = tmp_path / "with-links"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "target.txt").write_bytes(b"target")
    (tree / "link").symlink_to("sub/target.txt")
    (tree / ".env").write_bytes(b"secret")
    expected = kubo_cids([tree])[str(tree)]
    assert cid_str(import_path(tree, "kubo-v0", hidden=True).cid) == expected
    assert cid_str(import_path(tree, "kubo-v0", hidden=False).cid) != expected


@pytest.mark.parametrize(
    ("chunk", "links", "size"),
    [
        (256, 174, 174 * 174 * 256 + 1),  # three levels of the kubo-v1 fan-out, small chunks
        (1024, 1024, 1024 * 1024 * 3 + 7),  # the 1024-link layout past one full node
        (100, 3, 5000),  # a deep tree: 50 leaves, 3 links per node
    ],
)
def test_cid__deep_balanced_trees__match_js_reference(tmp_path, chunk, links, size):
    path = tmp_path / f"deep-{chunk}-{links}.bin"
    path.write_bytes(os.urandom(size))
    expected = js_cids([path], "--chunk-size", str(chunk), "--max-links", str(links))[str(path)]
    profile = Profile("custom", 1, True, chunk, links)
    assert cid_str(import_file(path, profile).cid) == expected


@pytest.mark.slow
def test_cid__unixfs_v1_2025_second_level__matches_js_reference(tmp_path):
    path = tmp_path / "big.bin"
    with open(path, "wb") as f:
        for _ in range(1025):
            f.write(os.urandom(MIB))
    expected = js_cids([path], "--profile", "unixfs-v1-2025")[str(path)]
    assert cid_str(import_file(path, "unixfs-v1-2025").cid) == expected


def test_cid__well_known_vectors():
    # `echo -n hello | ipfs add` / `ipfs add --cid-version=1`, and the empty file / directory
    assert cid_str(import_bytes(b"hello", "kubo-v0").cid) == "QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX"
    assert (
        cid_str(import_bytes(b"hello", "kubo-v1").cid)
        == "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"
    )
    assert cid_str(import_bytes(b"", "kubo-v0").cid) == "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
    assert cid_str(directory_node({}, "kubo-v0").cid) == "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"
    assert (
        cid_str(directory_node({}, "kubo-v1").cid)
        == "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354"
    )


@pytest.mark.parametrize("profile", list(PROFILES))
def test_import__push_in_odd_pieces__equals_pull(corpus, profile):
    path = corpus["node-174-plus1.bin"] if profile != "kubo-v0" else corpus["three-chunks.bin"]
    data = path.read_bytes()
    imp = FileImporter(profile)
    step = 65_537
    for off in range(0, len(data), step):
        imp.write(data[off : off + step])
    assert imp.close() == import_file(path, profile) == import_bytes(data, profile)


def test_import__non_file_stream_without_readinto__same_cid(corpus):
    data = corpus["three-chunks.bin"].read_bytes()

    class Reader:
        def __init__(self):
            self.buf = io.BytesIO(data)

        def read(self, n):
            return self.buf.read(min(n, 1000))

    assert FileImporter("kubo-v1").read_from(Reader()) == import_bytes(data, "kubo-v1")


def test_import__bounded_memory__peak_independent_of_file_size(tmp_path):
    small, large = tmp_path / "small.bin", tmp_path / "large.bin"
    for path, mib in ((small, 32), (large, 256)):
        with open(path, "wb") as f:
            f.truncate(mib * MIB)  # sparse: reads cost nothing, hashing is real
    peaks = []
    for path in (small, large):
        tracemalloc.start()
        with open(path, "rb", buffering=0) as f:  # the buffered path used for streams and uploads
            FileImporter("kubo-v1").read_from(f)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    ring = RING * BUFFER_BYTES
    assert peaks[1] < ring + 4 * MIB  # the buffer ring, not the file
    assert peaks[1] < peaks[0] + 2 * MIB


def test_import__mapped_and_buffered_paths__same_node(corpus):
    path = corpus["node-174-plus1.bin"]  # above MAP_MIN_BYTES: import_file maps it
    assert path.stat().st_size >= MAP_MIN_BYTES
    with open(path, "rb", buffering=0) as f:
        buffered = FileImporter("kubo-v1").read_from(f)
    assert import_file(path, "kubo-v1") == buffered
    assert import_file(path, "kubo-v0") == import_bytes(path.read_bytes(), "kubo-v0")


def test_import__limit__refuses_oversized_stream():
    with pytest.raises(UploadTooLarge):
        FileImporter("kubo-v1").read_from(io.BytesIO(b"x" * (5 * MIB)), limit=MIB)


def test_file_node__encoding_is_links_then_data_with_blocksizes(corpus):
    blocks = {}

    class Sink:
        def put(self, cid, parts):
            blocks[cid] = b"".join(bytes(p) for p in parts)

    node = import_file(corpus["three-chunks.bin"], "kubo-v1", Sink())
    decoded = pb.decode_node(blocks[node.cid])
    unixfs = pb.decode_unixfs(decoded.data)
    assert [link.name for link in decoded.links] == ["", "", "", ""]
    assert unixfs.type == pb.FILE and unixfs.filesize == 3 * 256 * KIB + 17
    assert unixfs.blocksizes == [256 * KIB] * 3 + [17]
    assert blocks[node.cid].startswith(b"\x12")  # first field on the wire: a link
    assert node.tsize == len(blocks[node.cid]) + 3 * 256 * KIB + 17


@pytest.mark.parametrize("bad", ["..", ".", "", "a/b", "a\\b", "nul\x00"])
def test_directory__unsafe_entry_name__refused(bad):
    with pytest.raises(UnsafePath):
        directory_node({bad: import_bytes(b"x")})


@pytest.mark.parametrize("bad", ["../escape.txt", "/etc/passwd", "a/../../b", "ok/./x", "c:\\windows"])
def test_tree__traversal_paths__refused(bad):
    with pytest.raises(UnsafePath):
        split_path(bad)
    with pytest.raises(UnsafePath):
        import_tree({bad: b"x"})


def test_directory__too_many_entries__refused_instead_of_sharding():
    leaf = import_bytes(b"x")
    children = {f"photo-{i:06d}.jpg": leaf for i in range(6000)}
    with pytest.raises(DirectoryTooLarge, match="HAMT"):
        directory_node(children, "kubo-v1")


def test_directory__thai_names_sorted_by_utf8_bytes(tmp_path):
    names = ["ข.txt", "ก.txt", "Z.txt", "a.txt"]
    leaf = import_bytes(b"1")
    blocks = {}

    class Sink:
        def put(self, cid, parts):
            blocks[cid] = b"".join(bytes(p) for p in parts)

    node = directory_node(dict.fromkeys(names, leaf), "kubo-v1", Sink())
    links = pb.decode_node(blocks[node.cid]).links
    assert [link.name for link in links] == sorted(names, key=lambda n: n.encode())


@pytest.fixture(scope="module")
def random_sizes(tmp_path_factory):
    """Files of seeded random sizes around chunk and node boundaries of both profiles."""
    import random

    rng = random.Random(5)
    root = tmp_path_factory.mktemp("random-sizes")
    boundaries = [256 * KIB, MIB, 2 * MIB]
    sizes = [rng.randrange(0, 3 * MIB) for _ in range(8)]
    sizes += [b + rng.choice([-2, -1, 1, 2]) for b in boundaries]
    paths = []
    for i, size in enumerate(sizes):
        path = root / f"r{i}-{size}.bin"
        path.write_bytes(rng.randbytes(size))
        paths.append(path)
    return paths


@pytest.mark.parametrize("profile", ["kubo-v1", "unixfs-v1-2025"])
def test_cid__random_sizes__match_js_reference(random_sizes, profile):
    expected = js_cids(random_sizes, "--profile", profile)
    assert {str(p): cid_str(import_file(p, profile).cid) for p in random_sizes} == expected
