"""The Merkle tree against a literal transcription of RFC 6962's recursive definitions."""

import hashlib

import pytest

from control_plane.audit.merkle import (
    EMPTY_ROOT,
    MerkleBuilder,
    inclusion_path,
    inclusion_path_after_prefix,
    leaf_hash,
    merkle_root,
    node_hash,
    root_from_path,
)


def _mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m < k:
        return [*_path(m, leaves[:k]), _mth(leaves[k:])]
    return [*_path(m - k, leaves[k:]), _mth(leaves[:k])]


LEAVES = [hashlib.sha256(str(i).encode()).digest() for i in range(37)]


def test_leaf_and_node_hashes_are_domain_separated():
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 37])
def test_streamed_root_equals_the_recursive_definition(size):
    assert merkle_root(LEAVES[:size]) == _mth(LEAVES[:size]).hex()


def test_the_root_of_no_leaves_is_the_hash_of_the_empty_string():
    assert MerkleBuilder().root() == EMPTY_ROOT


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 37])
def test_inclusion_paths_equal_the_recursive_definition_and_lead_to_the_root(size):
    leaves = LEAVES[:size]
    root = _mth(leaves).hex()
    for index in range(size):
        path = inclusion_path(index, size, iter(LEAVES))
        assert path == [node.hex() for node in _path(index, leaves)]
        assert root_from_path(index, size, leaves[index], path) == root


def test_a_changed_leaf_or_a_wrong_index_does_not_lead_to_the_root():
    path = inclusion_path(5, 13, LEAVES)
    root = merkle_root(LEAVES[:13])
    assert root_from_path(5, 13, LEAVES[6], path) != root
    assert root_from_path(4, 13, LEAVES[5], path) != root
    with pytest.raises(ValueError, match="longer"):
        root_from_path(5, 13, LEAVES[5], [*path, path[0]])
    with pytest.raises(ValueError, match="shorter"):
        root_from_path(5, 13, LEAVES[5], path[:-1])


def test_a_path_for_more_leaves_than_there_are_is_refused():
    with pytest.raises(ValueError, match="fewer than 40"):
        inclusion_path(3, 40, LEAVES)


def test_a_builder_continues_from_its_frontier():
    builder = MerkleBuilder()
    for leaf in LEAVES[:11]:
        builder.add(leaf)
    resumed = MerkleBuilder.from_frontier(11, builder.frontier())
    for leaf in LEAVES[11:]:
        resumed.add(leaf)
    assert resumed.root() == merkle_root(LEAVES)
    with pytest.raises(ValueError, match="does not describe"):
        MerkleBuilder.from_frontier(12, builder.frontier())


@pytest.mark.parametrize("gone", [1, 2, 3, 5, 8, 11, 16, 20])
def test_paths_after_a_removed_prefix_equal_the_paths_over_every_leaf(gone):
    prefix = MerkleBuilder()
    for leaf in LEAVES[:gone]:
        prefix.add(leaf)
    for size in (gone + 1, gone + 6, 37):
        for index in range(gone, size):
            path = inclusion_path_after_prefix(index, size, prefix, iter(LEAVES[gone:]))
            assert path == inclusion_path(index, size, LEAVES)


def test_a_path_into_the_removed_prefix_is_refused():
    prefix = MerkleBuilder()
    for leaf in LEAVES[:8]:
        prefix.add(leaf)
    with pytest.raises(ValueError, match="not after the 8 leaves"):
        inclusion_path_after_prefix(3, 20, prefix, LEAVES[8:])
