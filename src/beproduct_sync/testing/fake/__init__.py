"""A fake BeProduct API over real HTTP, for tests, demos and benchmarks.

Seeded data (folders, plans per folder, styles and milestones per plan, materials), the token
endpoint and the Tracking endpoints the service uses, fault injection, request statistics, and
webhook bodies consistent with the data: one truth for the API and the webhooks.
"""

from beproduct_sync.testing.fake.chaos import ENDPOINTS, Fault
from beproduct_sync.testing.fake.model import Clock, fmt_time
from beproduct_sync.testing.fake.seed import Sizes
from beproduct_sync.testing.fake.server import FakeBeProduct
from beproduct_sync.testing.fake.world import Change, Removal, World

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
