"""A fake BeProduct API over real HTTP, for tests, demos and benchmarks.

Seeded data (folders, plans per folder, styles and milestones per plan, materials), the token
endpoint and the Tracking endpoints the service uses, fault injection, request statistics, and
webhook bodies consistent with the data: one truth for the API and the webhooks.
"""

from .faults import ENDPOINTS, Fault
from .model import Clock, fmt_time
from .seed import Sizes
from .server import FakeBeProduct
from .world import Change, Removal, World

__all__ = [
    "ENDPOINTS",
    "Change",
    "Clock",
    "FakeBeProduct",
    "Fault",
    "Removal",
    "Sizes",
    "World",
    "fmt_time",
]
