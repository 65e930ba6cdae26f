"""Pure text processing for teda-desk: normalisation, segmentation and routing.

The package owns ``route(text) -> RouteDecision`` (department, confidence, candidates, request
type, urgency, matched terms) and the rules behind it. It imports nothing of the project's other
packages and does no I/O at routing time beyond reading its own bundled data files once.
"""

from nlp.classify import REQUEST_TYPES
from nlp.router import RouteDecision, Router, route

__all__ = ["REQUEST_TYPES", "RouteDecision", "Router", "route"]
