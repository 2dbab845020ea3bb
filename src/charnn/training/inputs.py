"""What a classifier reads, for the classification task: texts, or sequences of numbers.

Each kind prepares the run's splits from `data`, encodes the training split once (batches are
cut from it by charnn.inference.batches), builds the network that reads it, scores the
validation split, and says what a checkpoint must carry to be used and resumed. The task
(training/classification.py) does everything else the same way for both.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from charnn.artifacts.checkpoint import Checkpoint
from charnn.config import ModelConfig, RunConfig
from charnn.data.labelled import prepare_examples
from charnn.data.sequences import prepare_sequences, standardization
from charnn.data.vocab import CharVocab
from charnn.inference.batches import EncodedTexts, EncodedValues, classify_logits, encode_texts
from charnn.inference.scoring import ClassifyResult, choose_weight, score_encoded
from charnn.inference.sequences import score_sequences
from charnn.model.classifier import CharClassifier, ValueEmbedding
from charnn.model.ngrams import NgramNaiveBayes


class TextInputs:
    """Labelled texts (.tsv, .jsonl, label files or folders), read as characters, and the n-gram
    naive Bayes baseline fitted on the same training split (its smoothing chosen on the
    validation split), scored beside the network at every evaluation."""

    def __init__(self, config: RunConfig) -> None:
        splits = prepare_examples(config.data, seed=config.train.seed)
        self.splits, self.labels, self.name = splits, splits.labels, splits.name
        self.vocab = CharVocab.from_text("".join(example.text for example in splits.train))
        self.vocab_size = len(self.vocab)
        self.train_labels = [example.label for example in splits.train]
        self.train: EncodedTexts = encode_texts(
            self.vocab, [example.text for example in splits.train]
        )
        index = {label: i for i, label in enumerate(self.labels)}
        self.baseline = NgramNaiveBayes.fit(
            [example.text for example in splits.train],
            [index[label] for label in self.train_labels],
            len(self.labels),
        )
        val_texts = [example.text for example in splits.val]
        self._val_targets = [index.get(example.label, -1) for example in splits.val]
        # Encoded once: each evaluation runs the network over the same ids.
        self._val_encoded = encode_texts(self.vocab, val_texts, what="the validation examples")
        self.baseline.choose_alpha(val_texts, self._val_targets)
        self._val_baseline = self.baseline.log_posteriors(val_texts)
        self.mixes = config.model.ngram_mix
        self.mix_weight: float | None = None
        """The baseline's weight chosen at the latest evaluation (model.ngram_mix)."""
        self.baseline_val: dict[str, float] | None = None
        """The baseline's accuracy and macro-F1 on the validation split, once evaluated."""

    def build_model(self, config: ModelConfig) -> CharClassifier:
        return CharClassifier(config, self.vocab_size, len(self.labels))

    def score_val(self, model: CharClassifier) -> ClassifyResult:
        started = time.perf_counter()
        logits = classify_logits(model, self._val_encoded)
        if self.mixes:
            self.mix_weight = choose_weight(logits, self._val_baseline, self._val_targets)
        result = score_encoded(
            model,
            self._val_encoded,
            self.labels,
            [example.label for example in self.splits.val],
            what="the validation examples",
            started=started,
            baseline=self._val_baseline,
            mix_weight=self.mix_weight,
            logits=logits,
        )
        self.baseline_val = result.baseline
        return result

    def checkpoint_fields(self) -> dict[str, Any]:
        splits = self.splits
        return {
            "vocab": self.vocab,
            "corpus": {"name": splits.name, "examples": len(splits.train), "sha256": splits.sha256},
            "baseline": {
                **self.baseline.to_dict(),
                "weight": self.mix_weight,
                "val": self.baseline_val,
            },
        }

    def check_resume(self, checkpoint: Checkpoint, fix: str) -> None:
        checkpoint.check_corpus(self.splits.name, self.splits.sha256, self.vocab, fix=fix)

    def describe(self) -> str:
        splits = self.splits
        return (
            f"{len(splits.train):,} training and {len(splits.val):,} validation examples of "
            f"{len(self.labels)} labels from {splits.name}, vocabulary {self.vocab_size}"
        )


class SequenceInputs:
    """Labelled sequences of numbers (.npz, or a named source such as `mnist`)."""

    vocab_size = 0

    def __init__(self, config: RunConfig) -> None:
        data = config.data
        splits = prepare_sequences(data, seed=config.train.seed)
        self.splits, self.labels, self.name = splits, splits.labels, splits.name
        self.train_labels = splits.train.labels
        self.train = EncodedValues(splits.train)
        features = splits.train.features
        mean, scale = (
            standardization(splits.train)
            if data.standardize
            else (np.zeros(features, np.float32), np.ones(features, np.float32))
        )
        self.mean, self.scale = torch.from_numpy(mean), torch.from_numpy(scale)
        self.features = features
        self.description: dict[str, Any] = {
            "kind": "values",
            "features": features,
            "steps": splits.train.steps,
            "dtype": str(splits.train.values.dtype),
            "standardize": data.standardize,
        }

    def build_model(self, config: ModelConfig) -> CharClassifier:
        model = CharClassifier(config, 0, len(self.labels), features=self.features)
        if not isinstance(model.embedding, ValueEmbedding):
            raise TypeError("a classifier of sequences reads them through a ValueEmbedding")
        model.embedding.standardize_by(self.mean, self.scale)
        return model

    def score_val(self, model: CharClassifier) -> ClassifyResult:
        return score_sequences(model, self.labels, self.splits.val, what="the validation sequences")

    def checkpoint_fields(self) -> dict[str, Any]:
        splits = self.splits
        return {
            "vocab": None,
            "inputs": dict(self.description),
            "corpus": {"name": splits.name, "examples": len(splits.train), "sha256": splits.sha256},
        }

    def check_resume(self, checkpoint: Checkpoint, fix: str) -> None:
        checkpoint.check_corpus(self.splits.name, self.splits.sha256, None, fix=fix)

    def describe(self) -> str:
        splits, inputs = self.splits, self.description
        scaled = "standardised" if inputs["standardize"] else "as they are"
        return (
            f"{len(splits.train):,} training and {len(splits.val):,} validation sequences of "
            f"{len(self.labels)} labels from {splits.name}: {inputs['steps']} steps of "
            f"{inputs['features']} {inputs['dtype']} values, {scaled}"
        )
