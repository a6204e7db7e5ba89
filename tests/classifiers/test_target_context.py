from classifiers.target_context import conjoin, mentions, sentences, target_context, target_terms


def test_sentences_split_on_sentence_ends_and_line_breaks() -> None:
    text = "Assad praised Iran. He met U.S. envoys? “Yes,” he said.\nHeading"
    assert sentences(text) == ["Assad praised Iran.", "He met U.S. envoys?", "“Yes,” he said.", "Heading"]


def test_mentions_match_word_prefixes_of_any_target() -> None:
    assert mentions("Iranian diplomats insist", target_terms("Iran"))
    assert mentions("Israeli forces advanced", target_terms("Israel"))
    assert mentions("The factions rebelled", target_terms("Iraqi armed factions"))
    assert not mentions("The minister visited Cairo", target_terms("Iran"))
    assert mentions("Climate activists marched", target_terms("Climate Change is a Real Concern"))


def test_context_keeps_mention_sentences_and_their_neighbours() -> None:
    text = "One about Iran. Two is neutral. Three is neutral. Four about Israel."
    assert target_context(text, "Iran", window=0) == "One about Iran."
    assert target_context(text, "Iran", window=1) == "One about Iran. Two is neutral."
    assert target_context(text, "Hamas") == text  # no mention: the whole text


def test_conjoin_tags_context_words_with_the_target() -> None:
    assert conjoin("United States", "US strikes") == "united_states|us united_states|strikes"
