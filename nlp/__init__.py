"""Pure text processing for teda-desk: normalisation, segmentation and routing.

The package owns ``route(text) -> RouteDecision`` (department, calibrated confidence, top-3
candidates, request type, urgency, ``auto`` and matched terms), the keyword rules behind it, the
learned model and its training from examples. It imports nothing of the project's other
packages and does no I/O at routing time beyond reading its own bundled data files once.
scikit-learn is loaded only when training.
"""

from nlp.classify import REQUEST_TYPES
from nlp.evaluate import EvalReport, evaluate
from nlp.model import Example, TextModel, default_examples
from nlp.router import RouteDecision, Router, route
from nlp.rules import load_default_rules, validate_rules
from nlp.train import train_model

__all__ = [
    "REQUEST_TYPES",
    "EvalReport",
    "Example",
    "RouteDecision",
    "Router",
    "TextModel",
    "default_examples",
    "evaluate",
    "load_default_rules",
    "route",
    "train_model",
    "validate_rules",
]
