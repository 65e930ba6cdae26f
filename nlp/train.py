"""Training the learned model and fitting its blend with the rules.

This module owns :func:`train_model` and the loading of the shipped default model.

Training, on examples normalised exactly as at routing time (:meth:`Router.prepare`):

1. Features (:mod:`nlp.features`: character 1–3-grams + jieba words) seen in at least two
   examples form the vocabulary; TF-IDF weighting with sublinear term frequency.
2. Three L2-regularised logistic regressions share these features: department
   (multinomial), request type (multinomial, examples with a type) and urgency (binary,
   balanced classes, examples with an urgency label). The type and urgency heads ignore
   features seen in fewer than two examples even when the vocabulary keeps them.
3. ``folds``-fold cross-validation gives out-of-fold head probabilities for every example;
   on these the blend parameters are fitted by maximum likelihood:

   * department: ``z_d = a·log(p_d + ε) + b·rule_score_d + c·[d = rule winner]``, softmax;
   * type: ``z_t = α·log(p_t + ε) + β·cue_score_t + γ·[t = cue-rule type] + bias_t``;
   * urgency: logistic regression on (model logit, cue-rule verdict, the three cue scores),
     with the decision threshold set for the highest recall at ≥ 80% precision.

4. ``auto_threshold`` is the lowest blended confidence at which the out-of-fold automatic
   decisions still reach ``auto_precision`` (98% by default: a margin over the 97% target
   because new messages are harder than the corpus).
5. The heads are refitted on all examples; the result is a :class:`~nlp.model.TextModel`.

scikit-learn and scipy are imported here only, so routing with a trained model never loads
them.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nlp.classify import REQUEST_TYPES, classify_type, detect_urgency, type_scores
from nlp.features import extract_features
from nlp.model import (
    DEFAULT_MODEL_PATH,
    Example,
    TextModel,
    default_examples,
    examples_hash,
)
from nlp.router import Router, urgency_features
from nlp.segment import Segmenter

__all__ = ["cross_validate", "load_default_model", "train_model"]

log = logging.getLogger(__name__)

_EPS = 1e-4
# Features seen in fewer examples are dropped. 1 helped the department head only marginally
# once the rules were broadened, at 10x the training time and a slower start-up.
_MIN_DF = 2
_MIN_DF_STYLE = 2  # type and urgency heads
_C_DEPARTMENT = 20.0
_C_TYPE = 10.0
_C_URGENT = 10.0
_URGENT_MIN_PRECISION = 0.8


@dataclass(frozen=True)
class _Prepared:
    text: str
    tokens: tuple[str, ...]
    features: Counter[str]
    rule_scores: dict[str, float]
    rule_type: str
    cue_scores: dict[str, float]


def _prepare(router: Router, examples: Sequence[Example]) -> list[_Prepared]:
    prepared = []
    for ex in examples:
        clean = router.prepare(ex.text)
        spans = router.spans(clean) if clean else []
        tokens = tuple(w for w, _, _ in spans)
        scores, _ = router.score(clean, spans)
        prepared.append(
            _Prepared(
                text=clean,
                tokens=tokens,
                features=extract_features(clean, tokens),
                rule_scores=scores,
                rule_type=classify_type(clean),
                cue_scores=type_scores(clean),
            )
        )
    return prepared


def _columns(clf: Any, n_features: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Return ``(classes, weights V×K, bias K)`` of a fitted sklearn LogisticRegression."""
    classes = [str(c) for c in clf.classes_]
    coef = np.asarray(clf.coef_, dtype=np.float64)
    intercept = np.asarray(clf.intercept_, dtype=np.float64)
    if len(classes) == 2 and coef.shape[0] == 1:  # binary: softmax-equivalent columns
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    assert coef.shape == (len(classes), n_features)
    return classes, coef.T, intercept


def _fit_heads(
    prepared: Sequence[_Prepared],
    examples: Sequence[Example],
    weights: np.ndarray,
    *,
    version: str,
    data_hash: str,
) -> TextModel:
    """Fit the TF-IDF vocabulary and the three heads (blend parameters left empty)."""
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    n = len(prepared)
    df: Counter[str] = Counter()
    for p in prepared:
        df.update(p.features.keys())
    min_df = _MIN_DF if n >= 50 else 1
    vocabulary = sorted(f for f, c in df.items() if c >= min_df)
    index = {f: i for i, f in enumerate(vocabulary)}
    idf = np.array([np.log((1 + n) / (1 + df[f])) + 1.0 for f in vocabulary], dtype=np.float32)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for r, p in enumerate(prepared):
        ids = [index[f] for f in p.features if f in index]
        if not ids:
            continue
        counts = np.array([p.features[vocabulary[i]] for i in ids], dtype=np.float32)
        v = (1.0 + np.log(counts)) * idf[ids]
        v /= float(np.sqrt(np.dot(v, v)))
        rows.extend([r] * len(ids))
        cols.extend(ids)
        vals.extend(v.tolist())
    x = csr_matrix((vals, (rows, cols)), shape=(n, len(vocabulary)), dtype=np.float64)

    blocks: list[np.ndarray] = []
    biases: list[np.ndarray] = []
    departments = [ex.department for ex in examples]
    if len(set(departments)) < 2:
        raise ValueError("training needs examples of at least two departments")
    clf = LogisticRegression(C=_C_DEPARTMENT, max_iter=2000)
    clf.fit(x, departments, sample_weight=weights)
    dep_classes, w, b = _columns(clf, len(vocabulary))
    blocks.append(w)
    biases.append(b)

    # Type and urgency are about how people write, not about the topic: features seen once
    # (names, typos, rare topic words) only add noise there, so those heads ignore them.
    style_min_df = _MIN_DF_STYLE if n >= 50 else 1
    common = np.array([df[f] >= style_min_df for f in vocabulary], dtype=bool)
    x_style = x[:, np.flatnonzero(common)]

    def full_width(w_common: np.ndarray) -> np.ndarray:
        w_full = np.zeros((len(vocabulary), w_common.shape[1]))
        w_full[common] = w_common
        return w_full

    typed = [i for i, ex in enumerate(examples) if ex.type in REQUEST_TYPES]
    type_classes: list[str] = []
    if len({examples[i].type for i in typed}) >= 2:
        clf = LogisticRegression(C=_C_TYPE, max_iter=2000)
        clf.fit(x_style[typed], [examples[i].type for i in typed], sample_weight=weights[typed])
        type_classes, w, b = _columns(clf, int(common.sum()))
        blocks.append(full_width(w))
        biases.append(b)

    labelled = [i for i, ex in enumerate(examples) if ex.urgent is not None]
    has_urgent = len({examples[i].urgent for i in labelled}) == 2
    if has_urgent:
        clf = LogisticRegression(C=_C_URGENT, max_iter=2000, class_weight="balanced")
        clf.fit(
            x_style[labelled],
            [int(bool(examples[i].urgent)) for i in labelled],
            sample_weight=weights[labelled],
        )
        blocks.append(full_width(np.asarray(clf.coef_, dtype=np.float64).T))
        biases.append(np.asarray(clf.intercept_, dtype=np.float64))

    return TextModel(
        vocabulary=vocabulary,
        idf=idf,
        weights=np.hstack(blocks),
        bias=np.concatenate(biases),
        departments=dep_classes,
        types=type_classes,
        has_urgent=has_urgent,
        params={},
        version=version,
        trained_on=n,
        data_hash=data_hash,
    )


def _folds(labels: Sequence[str], folds: int, seed: int) -> list[np.ndarray]:
    """Stratified fold assignment: indices of each fold's held-out examples."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    assignment = np.zeros(len(labels), dtype=int)
    offset = 0
    for label in sorted(by_label):
        idx = np.array(by_label[label])
        rng.shuffle(idx)
        for k, i in enumerate(idx):
            assignment[i] = (k + offset) % folds
        offset += len(idx)
    return [np.flatnonzero(assignment == f) for f in range(folds)]


def _softmax_rows(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def _fit_conditional_logit(
    features: np.ndarray, y: np.ndarray, *, n_bias: int = 0, x0: Sequence[float], l2: float
) -> np.ndarray:
    """Fit shared weights (and optional per-class biases) of a softmax over alternatives.

    Args:
        features: ``n × K × F`` features of each alternative.
        y: Index of the right alternative per row (rows with ``-1`` are skipped).
        n_bias: ``K`` to fit one bias per alternative, 0 for none.
        x0: Starting weights (length ``F``).
        l2: Ridge penalty on the biases (and a tiny one on the weights).
    """
    from scipy.optimize import minimize

    keep = y >= 0
    feats, target = features[keep], y[keep]
    rows = np.arange(len(target))
    n_f = feats.shape[2]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, bias = theta[:n_f], theta[n_f:]
        z = feats @ w
        if n_bias:
            z = z + bias
        p = _softmax_rows(z)
        nll = -float(np.log(p[rows, target] + 1e-12).sum())
        grad_z = p.copy()
        grad_z[rows, target] -= 1.0
        grad_w = np.einsum("nk,nkf->f", grad_z, feats) + 1e-3 * w
        value = nll + 0.5e-3 * float(w @ w)
        grads = [grad_w]
        if n_bias:
            grads.append(grad_z.sum(axis=0) + l2 * bias)
            value += 0.5 * l2 * float(bias @ bias)
        return value, np.concatenate(grads)

    theta0 = np.concatenate([np.asarray(x0, dtype=float), np.zeros(n_bias)])
    result = minimize(loss, theta0, jac=True, method="L-BFGS-B")
    return np.asarray(result.x)


def _pick_auto_threshold(confidence: np.ndarray, right: np.ndarray, precision: float) -> float:
    """Lowest confidence whose top-ranked set still reaches ``precision``."""
    order = np.argsort(-confidence, kind="stable")
    hits = np.cumsum(right[order])
    ranks = np.arange(1, len(order) + 1)
    ok = np.flatnonzero(hits / ranks >= precision)
    if len(ok) == 0:
        return 1.01
    k = int(ok.max())
    # Ties: never let in more than the chosen prefix.
    return float(max(confidence[order[k]], 0.5))


def _pick_urgent_threshold(prob: np.ndarray, truth: np.ndarray) -> float:
    best = (0.0, 0.5)
    for t in np.unique(np.clip(prob, 0.05, 0.95)):
        pred = prob >= t
        tp = int((pred & truth).sum())
        if not pred.any() or tp / int(pred.sum()) < _URGENT_MIN_PRECISION:
            continue
        recall = tp / max(int(truth.sum()), 1)
        if recall > best[0] or (recall == best[0] and t > best[1]):
            best = (recall, float(t))
    return best[1]


def train_model(
    examples: Sequence[Example],
    *,
    rules: Mapping[str, Any] | None = None,
    folds: int = 5,
    seed: int = 0,
    auto_precision: float = 0.98,
    correction_weight: float = 3.0,
    segmenter: Segmenter | None = None,
) -> TextModel:
    """Train a model on ``examples`` and fit its blend with ``rules`` (the defaults).

    Args:
        examples: Labelled messages (e.g. ``default_examples() + corrections``).
        rules: Rules document the router will use; the project defaults when omitted.
        folds: Cross-validation folds for the blend and the thresholds.
        seed: Seed of the fold assignment (training is otherwise deterministic).
        auto_precision: Precision the automatic-dispatch threshold aims at.
        correction_weight: Weight of examples that are not in the packaged corpus (the
            desk's corrections: a person decided them, and there are few of them).
        segmenter: Tokenizer; the shared default when omitted.

    Raises:
        ValueError: Fewer than two departments, or too few examples to cross-validate.
    """
    examples = [ex for ex in examples if ex.text and ex.department]
    if len(examples) < 2 * folds:
        raise ValueError(f"need at least {2 * folds} examples, got {len(examples)}")
    data_hash = examples_hash(examples)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    version = f"{data_hash[:12]}@{stamp}"
    router = Router(rules, segmenter=segmenter)
    prepared = _prepare(router, examples)
    n = len(examples)
    packaged = {(ex.text, ex.department) for ex in default_examples()}
    weights = np.array(
        [1.0 if (ex.text, ex.department) in packaged else correction_weight for ex in examples]
    )

    codes = list(router.departments)
    codes += sorted({ex.department for ex in examples} - set(codes))
    code_index = {c: i for i, c in enumerate(codes)}
    p_dep = np.zeros((n, len(codes)))
    p_type = np.full((n, len(REQUEST_TYPES)), 1.0 / len(REQUEST_TYPES))
    p_urgent = np.full(n, 0.5)
    for held_out in _folds([ex.department for ex in examples], folds, seed):
        mask = np.ones(n, dtype=bool)
        mask[held_out] = False
        train_idx = np.flatnonzero(mask)
        model = _fit_heads(
            [prepared[i] for i in train_idx],
            [examples[i] for i in train_idx],
            weights[train_idx],
            version="fold",
            data_hash="",
        )
        for i in held_out:
            out = model.predict(prepared[i].text, prepared[i].tokens)
            for code, p in out.departments.items():
                p_dep[i, code_index[code]] = p
            for t, p in out.types.items():
                p_type[i, REQUEST_TYPES.index(t)] = p
            if out.urgent is not None:
                p_urgent[i] = out.urgent

    # Department blend.
    rule = np.zeros((n, len(codes)))
    winner = np.zeros((n, len(codes)))
    for i, prep in enumerate(prepared):
        for code, s in prep.rule_scores.items():
            rule[i, code_index[code]] = s
        best = max(prep.rule_scores, key=prep.rule_scores.__getitem__, default=None)
        if best is not None:
            winner[i, code_index[best]] = 1.0
    feats = np.stack([np.log(p_dep + _EPS), rule, winner], axis=2)
    y = np.array([code_index[ex.department] for ex in examples])
    a, b, c = _fit_conditional_logit(feats, y, x0=(1.0, 0.3, 0.5), l2=0.0)
    params: dict[str, Any] = {"dept": {"a": float(a), "b": float(b), "c": float(c)}}
    blended = _softmax_rows(feats @ np.array([a, b, c]))
    confidence = blended.max(axis=1)
    right = blended.argmax(axis=1) == y
    params["auto_threshold"] = _pick_auto_threshold(confidence, right, auto_precision)
    params["cv"] = {
        "folds": folds,
        "top1": float(right.mean()),
        "auto_share": float((confidence >= params["auto_threshold"]).mean()),
    }

    # Type blend.
    if any(ex.type in REQUEST_TYPES for ex in examples):
        cue = np.array([[prep.cue_scores[t] for t in REQUEST_TYPES] for prep in prepared])
        rule_t = np.array(
            [[float(prep.rule_type == t) for t in REQUEST_TYPES] for prep in prepared]
        )
        feats_t = np.stack([np.log(p_type + _EPS), cue, rule_t], axis=2)
        y_t = np.array(
            [REQUEST_TYPES.index(ex.type) if ex.type in REQUEST_TYPES else -1 for ex in examples]
        )
        theta = _fit_conditional_logit(
            feats_t, y_t, n_bias=len(REQUEST_TYPES), x0=(1.0, 0.3, 1.0), l2=1.0
        )
        params["type"] = {
            "alpha": float(theta[0]),
            "beta": float(theta[1]),
            "gamma": float(theta[2]),
            "bias": {t: float(v) for t, v in zip(REQUEST_TYPES, theta[3:], strict=True)},
        }

    # Urgency blend.
    labelled = [i for i, ex in enumerate(examples) if ex.urgent is not None]
    if len({examples[i].urgent for i in labelled}) == 2:
        from sklearn.linear_model import LogisticRegression

        xu = np.array(
            [
                urgency_features(
                    float(p_urgent[i]),
                    detect_urgency(prepared[i].text, examples[i].type),
                    prepared[i].text,
                )
                for i in labelled
            ]
        )
        yu = np.array([bool(examples[i].urgent) for i in labelled])
        clf = LogisticRegression(C=1.0, max_iter=1000)
        clf.fit(xu, yu)
        prob = clf.predict_proba(xu)[:, 1]
        params["urgent"] = {
            "coef": [float(v) for v in clf.coef_[0]],
            "intercept": float(clf.intercept_[0]),
            "threshold": _pick_urgent_threshold(prob, yu),
        }

    final = _fit_heads(prepared, examples, weights, version=version, data_hash=data_hash)
    final.params.update(params)
    return final


def load_default_model(path: Path = DEFAULT_MODEL_PATH) -> TextModel:
    """Load the shipped model; train one in memory when it is missing or stale."""
    examples = default_examples()
    expected = examples_hash(examples)
    if path.exists():
        try:
            model = TextModel.from_bytes(path.read_bytes())
        except ValueError as exc:
            log.warning("default model %s unreadable (%s); training in memory", path, exc)
        else:
            if model.data_hash == expected:
                return model
            log.warning(
                "default model %s was built from another corpus; training in memory "
                "(run `uv run python -m nlp.build`)",
                path,
            )
    else:
        log.warning("default model %s missing; training in memory", path)
    return train_model(examples)


def cross_validate(
    examples: Sequence[Example],
    *,
    folds: int = 5,
    seed: int = 1,
    rules: Mapping[str, Any] | None = None,
    **train_options: Any,
) -> list[tuple[int, Any]]:
    """Route every example with a model trained on the other folds (full retraining).

    Returns:
        ``(index, RouteDecision)`` for every example, in index order.
    """
    results: list[tuple[int, Any]] = []
    examples = list(examples)
    for held_out in _folds([ex.department for ex in examples], folds, seed):
        held = set(held_out.tolist())
        train = [ex for i, ex in enumerate(examples) if i not in held]
        router = Router(rules, train_model(train, rules=rules, **train_options))
        results.extend((int(i), router.route(examples[i].text)) for i in held_out)
    return sorted(results, key=lambda r: r[0])
