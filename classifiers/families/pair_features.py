"""Stance toward a long target (an FNC-1 headline) from relatedness and cue features.

What the FNC-1 systems found to matter, in dense form: how related the target and the text
are (TF-IDF and SVD cosines over the whole text and its best-matching sentences, word and
bigram overlap, MiniLM similarity of the target to each sentence), and how the sentences that
talk about the target speak of it (refuting, hedging and negation cues, and the embedding
interaction of the target with those sentences). Gradient-boosted trees combine them.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Literal

import joblib
import numpy as np
import pandas as pd
from pydantic import Field, PositiveFloat, PositiveInt
from scipy.sparse import csr_matrix
from sklearn.decomposition import TruncatedSVD
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.preprocessing import normalize
from tqdm.auto import tqdm

from classifiers.config import BATCH_SIZE_HELP, CLASS_WEIGHT_HELP, PACKAGED_ENCODER, FamilyConfig
from classifiers.encoder import ENCODER_REQUIREMENTS, MeanPooledEncoder, resolve_encoder
from classifiers.errors import UserInputError
from classifiers.interface import Labels, TextReading, Trainable
from classifiers.registry import Factory, Family, register
from classifiers.target_context import sentences

logger = logging.getLogger(__name__)

FEATURIZER_FILE = "featurizer.joblib"
TREES_FILE = "trees.joblib"
ENCODER_DIR = "encoder"

_TOKEN = re.compile(r"[a-z0-9]+")
# Cue lexicons in the spirit of the FNC-1 baseline's refuting words and Athene's hedging features.
REFUTING = frozenset(
    "fake fraud hoax false deny denies denied denying not despite nope doubt doubts bogus debunk debunked debunks "
    "pranks retract retracted rumor rumors rumour unconfirmed untrue misleading fabricated satire no never".split()
)
HEDGING = frozenset(
    "reportedly allegedly alleged claims claimed claim according apparently purportedly supposedly may might could "
    "possibly suggests suggest believed appears seems unverified report reports reported".split()
)
SUPPORTING = frozenset("confirmed confirms confirm official officially announced proves proven verified indeed".split())
NEGATION = frozenset("not no never none nothing neither nor cannot without".split())
CUES = (REFUTING, HEDGING, SUPPORTING, NEGATION)


def tokens(text: str) -> list[str]:
    """Lower-cased alphanumeric words, in order."""
    return _TOKEN.findall(text.lower())


def content(words: list[str]) -> set[str]:
    """The distinct words that are not English stop words."""
    return {word for word in words if word not in ENGLISH_STOP_WORDS}


def bigrams(words: list[str]) -> set[tuple[str, str]]:
    """The distinct pairs of adjacent words."""
    return set(zip(words, words[1:]))


def _cue_rates(words: list[str]) -> list[float]:
    n = max(len(words), 1)
    return [sum(word in cue for word in words) / n for cue in CUES] + [float(any(word in REFUTING for word in words))]


def _claim_cues(target_content: set[str], text_words: list[str], top_sentences: list[str], window: int) -> list[float]:
    """How the text speaks of the target's claim: per cue lexicon, the share of target-word mentions with a cue
    word within `window` words, and the share of the top sentences that hold both a target word and a cue word;
    then the log count of cue words near the claim and the parity of refuting words in the text (as in the
    FNC-1 baseline's polarity)."""
    anchors = [i for i, word in enumerate(text_words) if word in target_content]
    near: list[float] = []
    total = 0
    for cue in CUES:
        hits = [i for i, word in enumerate(text_words) if word in cue]
        close = sum(any(abs(i - j) <= window for j in hits) for i in anchors) if hits else 0
        total += sum(any(abs(i - j) <= window for j in anchors) for i in hits) if anchors else 0
        near.append(close / max(len(anchors), 1))
    sentence_words = [set(tokens(sentence)) for sentence in top_sentences]
    both = [
        sum(bool(words & target_content) and bool(words & cue) for words in sentence_words) / max(len(sentence_words), 1)
        for cue in CUES
    ]
    refuting = sum(word in REFUTING for word in text_words)
    return [*near, *both, float(np.log1p(total)), float(refuting % 2)]


def _cosine_rows(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", normalize(left), normalize(right))


class PairFeaturesModel(FamilyConfig):
    """Stance of a text toward a long target (FNC-1 headline vs body): relatedness and cue features,
    gradient-boosted trees on top."""

    family: Literal["pair_features"]
    encoder: str | None = Field(PACKAGED_ENCODER, description="Embedding similarity features; null to leave them out.")
    max_length: PositiveInt = Field(128, description="Word pieces of each sentence the encoder reads; the rest is cut.")
    batch_size: PositiveInt = Field(64, description=BATCH_SIZE_HELP)
    max_sentences: PositiveInt = Field(40, description="Body sentences compared with the target (from the start).")
    top_sentences: PositiveInt = Field(3, description="Most target-like sentences whose cues and embeddings are used.")
    svd_components: PositiveInt = Field(
        100,
        description="Dimensions the TF-IDF vectors are reduced to (truncated SVD, fitted on the training side).",
    )
    embedding_interactions: bool = Field(True, description="Add target x best-sentences embedding products and gaps.")
    learning_rate: PositiveFloat = Field(0.1, description="The gradient-boosted trees' learning rate.")
    max_iter: PositiveInt = Field(300, description="Boosting iterations (trees per class).")
    max_leaf_nodes: PositiveInt = Field(31, description="Leaves of each tree.")
    l2_regularization: float = Field(0.0, ge=0, description="L2 penalty on the leaves' values.")
    class_weight: Literal["balanced"] | None = Field(
        None,
        description=CLASS_WEIGHT_HELP,
    )
    svd_coordinates: bool = Field(
        True,
        description="Add the target's and the text's SVD coordinates as features (they name the topic: trees can "
        "learn which topics were related in training, which does not carry over to new stories); the SVD cosine "
        "is always kept.",
    )
    claim_cues: bool = Field(
        False,
        description="Add cue features near the target's claim: refuting, hedging, supporting and negation words "
        "within a few words of a target word in the text, in the sentences that share most target words, and "
        "whether the target itself refutes.",
    )
    claim_window: PositiveInt = Field(6, description="Words either side of a target word that count as near the claim.")

    def encoders(self) -> dict[str, str]:
        return {} if self.encoder is None else {"model.encoder": self.encoder}


class PairFeaturizer:
    """Dense features of (target, text) pairs; TF-IDF and SVD are fitted on the training texts."""

    def __init__(self, config: PairFeaturesModel, seed: int) -> None:
        self.config = config
        self.seed = seed
        self.vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=200_000, sublinear_tf=True, stop_words="english")
        self.svd = TruncatedSVD(n_components=config.svd_components, random_state=seed)

    def fit(self, inputs: pd.DataFrame) -> PairFeaturizer:
        """Fit TF-IDF and SVD on the distinct texts and targets."""
        corpus = pd.unique(pd.concat([inputs["text"], inputs["target"]]))
        try:
            matrix = self.vectorizer.fit_transform(corpus)
        except ValueError as err:  # no term occurs in two texts
            raise UserInputError(f"pair_features: no vocabulary in {len(corpus)} training texts and targets ({err})") from err
        n_terms = matrix.shape[1]
        # A small training set (a quick run, one fold) can have fewer terms than the configured components.
        components = min(self.config.svd_components, n_terms - 1)
        if components < 1:
            raise UserInputError(
                f"pair_features: the training texts and targets share only {n_terms} term(s); SVD needs at least 2"
            )
        if components < self.config.svd_components:
            logger.warning(
                "pair_features: %d terms, so svd_components %d is lowered to %d", n_terms, self.config.svd_components, components
            )
            self.svd.set_params(n_components=components)
        self.svd.fit(matrix)
        return self

    def transform(self, inputs: pd.DataFrame, encoder: MeanPooledEncoder | None) -> np.ndarray:
        """One row of features per pair; texts and targets are processed once each."""
        texts, targets = inputs["text"].tolist(), inputs["target"].tolist()
        unique_texts = list(dict.fromkeys(texts))
        unique_targets = list(dict.fromkeys(targets))
        split = {text: sentences(text)[: self.config.max_sentences] or [text] for text in unique_texts}

        sentence_list = list(dict.fromkeys(s for text in unique_texts for s in split[text]))
        sentence_index = {sentence: i for i, sentence in enumerate(sentence_list)}
        sentence_tfidf = self.vectorizer.transform(sentence_list)
        target_index = {target: i for i, target in enumerate(unique_targets)}
        target_tfidf = self.vectorizer.transform(unique_targets)
        text_index = {text: i for i, text in enumerate(unique_texts)}
        text_tfidf = self.vectorizer.transform(unique_texts)
        target_svd, text_svd = self.svd.transform(target_tfidf), self.svd.transform(text_tfidf)

        sentence_vectors = target_vectors = None
        if encoder is not None:
            frame = pd.DataFrame({"text": sentence_list + unique_targets})
            embedded = encoder.encode(frame, progress=True)
            sentence_vectors, target_vectors = embedded[: len(sentence_list)], embedded[len(sentence_list) :]

        rows = []
        for text, target in tqdm(list(zip(texts, targets, strict=True)), desc="pair features", unit="pair", mininterval=5):
            rows.append(
                self._pair(
                    text, target, split[text], [sentence_index[s] for s in split[text]],
                    sentence_tfidf, target_tfidf[target_index[target]], text_tfidf[text_index[text]],
                    sentence_vectors, None if target_vectors is None else target_vectors[target_index[target]],
                )
            )
        features = np.asarray(rows, dtype=np.float32)
        pair_target_svd, pair_text_svd = target_svd[[target_index[t] for t in targets]], text_svd[[text_index[t] for t in texts]]
        svd_parts = [_cosine_rows(pair_target_svd, pair_text_svd)[:, None]]
        if self.config.svd_coordinates:
            svd_parts += [pair_target_svd, pair_text_svd]
        svd_pairs = np.hstack(svd_parts).astype(np.float32)
        return np.hstack([features, svd_pairs])

    def _pair(
        self,
        text: str,
        target: str,
        text_sentences: list[str],
        rows: list[int],
        sentence_tfidf: csr_matrix,
        target_tfidf: csr_matrix,
        text_tfidf: csr_matrix,
        sentence_vectors: np.ndarray | None,
        target_vector: np.ndarray | None,
    ) -> list[float]:
        """11 relatedness features, then the cue rates of the target, the text and its top sentences (5 each);
        with an encoder, 4 similarities and, if configured, the embedding products and gaps."""
        target_words, text_words = tokens(target), tokens(text)
        target_content, text_content = content(target_words), content(text_words)
        target_bigrams = bigrams(target_words)
        lexical = (sentence_tfidf[rows] @ target_tfidf.T).toarray().ravel()
        order = np.argsort(-lexical)
        semantic = None
        if sentence_vectors is not None and target_vector is not None:
            semantic = sentence_vectors[rows] @ target_vector
            order = np.argsort(-(semantic + lexical))
        top = order[: self.config.top_sentences]
        top_words = [word for index in top for word in tokens(text_sentences[index])]
        lead_words = content(tokens(text_sentences[0]))

        overlap = len(target_content & text_content)
        features = [
            float((text_tfidf @ target_tfidf.T).toarray()[0, 0]),
            float(lexical.max()),
            float(np.sort(lexical)[-3:].mean()),
            float(lexical[: 3].mean()),
            overlap / max(len(target_content), 1),
            overlap / max(len(target_content | text_content), 1),
            len(target_bigrams & bigrams(text_words)) / max(len(target_bigrams), 1),
            len(target_content & lead_words) / max(len(target_content), 1),
            float(np.log1p(len(target_words))),
            float(np.log1p(len(text_words))),
            float(np.log1p(len(text_sentences))),
            *_cue_rates(target_words),
            *_cue_rates(text_words),
            *_cue_rates(top_words),
        ]
        if self.config.claim_cues:
            features += _claim_cues(target_content, text_words, [text_sentences[index] for index in top], self.config.claim_window)
        if semantic is not None and sentence_vectors is not None and target_vector is not None:
            best = sentence_vectors[rows][top].mean(axis=0)
            features += [float(semantic.max()), float(np.sort(semantic)[-3:].mean()), float(semantic.mean()), float(semantic[0])]
            if self.config.embedding_interactions:
                features += list(target_vector * best) + list(np.abs(target_vector - best))
        return features


class PairFeaturesClassifier(Trainable):
    """Gradient-boosted trees over a (target, text) pair's relatedness and cue features (PairFeaturesModel)."""

    family = "pair_features"

    def __init__(
        self, task: str, featurizer: PairFeaturizer, trees: HistGradientBoostingClassifier, encoder: MeanPooledEncoder | None
    ) -> None:
        super().__init__(task)
        self.featurizer = featurizer
        self.trees = trees
        self.encoder = encoder

    @classmethod
    def untrained(cls, task: str, config: PairFeaturesModel, encoder: MeanPooledEncoder | None, seed: int) -> PairFeaturesClassifier:
        """A model of the config, to be fitted (`encoder`: None where the config names no encoder)."""
        trees = HistGradientBoostingClassifier(
            learning_rate=config.learning_rate,
            max_iter=config.max_iter,
            max_leaf_nodes=config.max_leaf_nodes,
            l2_regularization=config.l2_regularization,
            class_weight=config.class_weight,
            early_stopping=False,
            random_state=seed,
        )
        return cls(task, PairFeaturizer(config, seed), trees, encoder)

    def fit(self, inputs: pd.DataFrame, y: Labels, sample_weight: np.ndarray | None = None) -> None:
        self.featurizer.fit(inputs)
        self.trees.fit(self.featurizer.transform(inputs, self.encoder), list(y), sample_weight=sample_weight)
        self.labels = [str(label) for label in self.trees.classes_]

    def reading(self) -> TextReading:
        # The TF-IDF and cue features read every word; the encoder embeds the body's sentences, each to max_length.
        return TextReading(whole=True, max_length=None if self.encoder is None else self.encoder.max_length)

    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        return self.trees.predict_proba(self.featurizer.transform(inputs, self.encoder))

    def save_weights(self, directory: Path) -> None:
        joblib.dump(self.featurizer, directory / FEATURIZER_FILE)
        joblib.dump(self.trees, directory / TREES_FILE)
        if self.encoder is not None:
            self.encoder.save(directory / ENCODER_DIR)

    @classmethod
    def load_weights(cls, directory: Path, task: str, labels: list[str]) -> PairFeaturesClassifier:
        encoder = MeanPooledEncoder.load(directory / ENCODER_DIR) if (directory / ENCODER_DIR).is_dir() else None
        classifier = cls(task, joblib.load(directory / FEATURIZER_FILE), joblib.load(directory / TREES_FILE), encoder)
        classifier.labels = labels
        return classifier


def _trainer(config: PairFeaturesModel, task: str, seed: int) -> Factory:
    shared = None
    if config.encoder is not None:
        shared = MeanPooledEncoder(
            resolve_encoder(config.encoder, config.max_length), config.max_length, config.batch_size, cache=True, long_texts="truncate"
        )
    return lambda: PairFeaturesClassifier.untrained(task, config, shared, seed)


register(
    Family("pair_features", PairFeaturesModel, PairFeaturesClassifier, ENCODER_REQUIREMENTS, _trainer, tasks=("stance",))
)
