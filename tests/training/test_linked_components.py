from training.linked_components import linked_components


def test_pairs_linked_through_others_share_a_component() -> None:
    # a-1, b-1 and b-2 link a, b, 1 and 2; c-3 is apart; the left "1" is not the right "1".
    left, right = linked_components(["a", "b", "b", "c", "1"], ["1", "1", "2", "3", "4"])
    assert left[0] == left[1] == left[2] == right[0] == right[1] == right[2]
    assert len({left[0], left[3], left[4]}) == 3
    assert left[3] == right[3] and left[4] == right[4]


def test_a_pair_that_is_not_linked_leaves_its_nodes_apart() -> None:
    left, right = linked_components(["a", "a", "b"], ["x", "y", "y"], [True, False, True])
    assert left[0] == right[0] and left[2] == right[2] == right[1]
    assert left[0] != left[2]


def test_a_node_of_no_linked_pair_is_a_component_of_its_own() -> None:
    left, right = linked_components(["a", "b"], ["x", "x"], [False, False])
    assert len({*left, *right}) == 3
