"""Deterministic seeded data: the same seed and sizes always give the same ids, names and dates."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

from .model import (
    NIL_UUID,
    TICKS_PER_DAY,
    TICKS_PER_SECOND,
    Folder,
    Header,
    Milestone,
    MilestoneDef,
    Plan,
    Row,
    User,
    to_ticks,
)

STATUSES = (
    "Not Started",
    "In Progress",
    "Approved",
    "Approved with corrections",
    "Rejected",
    "Complete",
    "Waiting On",
    "NA",
)
DONE = frozenset({"Approved", "Approved with corrections", "Complete", "NA"})
# "Today" for seeded data: statuses and lateness are drawn as if the world were seen then.
TODAY = to_ticks("2025-11-06T00:00:00Z")

USER_NAMES = (
    "Natalie.James",
    "chrisk",
    "Maria.Lopez",
    "dan.oconnor",
    "Priya.Shah",
    "tom.w",
    "Aiko.Tanaka",
    "ben.carter",
    "Sofia.Rossi",
    "lee.m",
)
BRANDS = ("GREYSON", "WOLFPACK", "TRAILWOLF", "NORTH RIDGE")
SEASONS = ("SPRING", "SUMMER", "FALL", "HOLIDAY")
ADJECTIVES = (
    "Trailwolf",
    "Wolfpack",
    "Kennebec",
    "Saguaro",
    "Sequoia",
    "Tamarack",
    "Driftwood",
    "Ridgeline",
    "Halcyon",
    "Granite",
    "Coastal",
    "Timber",
    "Summit",
    "Aspen",
    "Canyon",
)
GARMENTS = (
    "Vest",
    "Short",
    "Polo",
    "Quarter-Zip",
    "Jogger",
    "Hoodie",
    "Crew",
    "Pullover",
    "Tee",
    "Trouser",
    "Jacket",
    "Henley",
    "Cardigan",
    "Windbreaker",
    "Overshirt",
)
MATERIALS = (
    "Recycled Nylon Ripstop",
    "Merino Jersey",
    "Cotton Pique",
    "Stretch Twill",
    "Poly Mesh",
    "Brushed Fleece",
    "Performance Knit",
    "Waxed Canvas",
)
COLORS = (
    ("STINGRAY", "030"),
    ("SHEPHERD", "001"),
    ("ARCTIC", "100"),
    ("MALTESE", "410"),
    ("SEQUOIA", "224"),
    ("LAPIS", "430"),
    ("IVORY", "105"),
    ("MOSS", "310"),
    ("CLAY", "250"),
)
SIZES = ("NA", "NA", "NA", "S", "M", "L", "XL")
SUPPLIERS = ("Everest Apparel Ltd", "Hanoi Knitworks", "Pacific Textiles", "Sunrise Garments")
COUNTRIES = ("Bangladesh", "Vietnam", "China", "India")
# The office's UTC offset. BeProduct writes a calendar date picked at creation as the local
# wall-clock time labelled Z (real sample: a style added at 01:52Z got a first milestone dated
# "2025-11-05T18:52:05.07Z", 7 hours earlier); a date edited later arrives as midnight Z.
LOCAL_OFFSET = -7 * 3600 * TICKS_PER_SECOND
DEPARTMENTS = (
    "PRE-PRODUCTION | CUSTOMER",
    "DESIGN",
    "DEVELOPMENT",
    "SOURCING",
    "PRODUCTION",
    "QUALITY",
    "LOGISTICS",
)
TASKS = (
    "TECHPACKS PASS OFF",
    "PROTO REQUEST",
    "PROTO PRODUCTION",
    "PROTO RECEIVED",
    "PROTO FIT",
    "PROTO COMMENTS",
    "LAB DIPS SUBMIT",
    "LAB DIPS APPROVAL",
    "STRIKE OFF SUBMIT",
    "STRIKE OFF APPROVAL",
    "SMS REQUEST",
    "SMS PRODUCTION",
    "SMS RECEIVED",
    "SMS FIT",
    "PRICE CONFIRMATION",
    "BULK FABRIC ORDER",
    "BULK FABRIC IN HOUSE",
    "TRIMS APPROVAL",
    "PP SAMPLE SUBMIT",
    "PP SAMPLE APPROVAL",
    "TOP SAMPLE",
    "PRODUCTION START",
    "FINAL INSPECTION",
    "EX-FACTORY",
    "IN WAREHOUSE",
    "LINE REVIEW",
    "COSTING",
    "PHOTO SAMPLES",
    "SALES SAMPLES",
    "SHIP TO DC",
)
MATERIAL_TASKS = (
    "MATERIAL REQUEST",
    "HANDLOOM SUBMIT",
    "HANDLOOM APPROVAL",
    "TESTING",
    "BULK APPROVAL",
    "GREIGE ORDER",
    "DYE LOT APPROVAL",
    "DELIVERY",
)
PAGES = (None, None, None, "Tech Pack", "Sample Request", "Bill of Materials")


@dataclass(frozen=True)
class Sizes:
    """How much data to seed."""

    folders: int = 3
    plans: int = 10  # per folder
    styles: int = 50  # rows per plan
    milestones: int = 25  # definitions per plan (and instances per style row)
    materials: int = 10  # material rows per plan
    material_milestones: int = 8


class Seeder:
    """Draws ids, names and dates from one random generator."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.users = [User(self.uuid(), name) for name in USER_NAMES]
        # Milestones are shared with partners (suppliers), not users.
        self.partners = [
            User(self.uuid_for(name), name, "Supplier", country)
            for name, country in zip(SUPPLIERS, COUNTRIES, strict=True)
        ]
        self.company_id = self.uuid()
        self.style_folder = (self.uuid(), "Style")
        self.material_folder = (self.uuid(), "Material")
        self._numbers: set[str] = set()

    def uuid(self) -> str:
        """A version-4 UUID from the seeded generator."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def instant(self, start: int, days: float) -> int:
        """A random instant within `days` after `start`, at 100-ns resolution."""
        return start + self.rng.randrange(max(1, int(days * TICKS_PER_DAY)))

    def header(self, kind: str) -> Header:
        """A new style (e.g. "MSP26O73 Trailwolf Vest") or material master record."""
        rng = self.rng
        while True:
            if kind == "Material":
                number = f"FAB-{rng.randrange(1000, 9999)}"
            else:
                number = (
                    f"{rng.choice('MW')}{rng.choice(('SP', 'SU', 'FA', 'HO'))}26"
                    f"{rng.choice('ABCDEFGHJKLMNOPRSTW')}{rng.randrange(10, 99)}"
                )
            if number not in self._numbers:
                self._numbers.add(number)
                break
        if kind == "Material":
            name = rng.choice(MATERIALS)
            folder = self.material_folder
        else:
            name = f"{rng.choice(ADJECTIVES)} {rng.choice(GARMENTS)}"
            folder = self.style_folder
        return Header(self.uuid(), number, name, folder[0], folder[1])

    def definitions(self, count: int, tasks: tuple[str, ...], start: int) -> list[MilestoneDef]:
        """A plan's milestone definitions, spread over the season in order."""
        names = list(tasks) + [f"{t} {i}" for i in range(2, 99) for t in tasks]
        days = 0
        defs: list[MilestoneDef] = []
        for i in range(count):
            days += self.rng.randrange(0, 15)
            task = names[i]
            # Each definition follows the one before it, every fifth the one two back (a
            # branch), so critical paths have something to choose; no extra random draws, so
            # the seeded data stays the same.
            anchor = defs[i - 2] if i % 5 == 4 else defs[i - 1] if i else None
            defs.append(
                MilestoneDef(
                    id=self.uuid(),
                    department=self.rng.choice(DEPARTMENTS),
                    action=task,
                    short=task[:24],
                    page_name=self.rng.choice(PAGES),
                    days=days,
                    plan_date=start + days * TICKS_PER_DAY,
                    anchor=anchor.id if anchor else NIL_UUID,
                    gap=days - anchor.days if anchor else 0,
                )
            )
        return defs

    def milestone(self, d: MilestoneDef, created: int) -> Milestone:
        """An instance of a definition, with a status plausible for its date; its dates carry the
        local time of day of the row's creation (`created`), labelled Z, as BeProduct's do."""
        rng = self.rng
        clock = (created + LOCAL_OFFSET) % TICKS_PER_DAY
        plan = d.plan_date + clock
        due = plan + rng.choice((0, 0, 0, 1, 2, 7)) * TICKS_PER_DAY
        if due < TODAY:
            status = rng.choice(
                (
                    "Complete",
                    "Approved",
                    "Approved with corrections",
                    "In Progress",
                    "Waiting On",
                    "Rejected",
                    "NA",
                    "Complete",
                )
            )
        elif due < TODAY + 30 * TICKS_PER_DAY:
            status = rng.choice(("Not Started", "In Progress", "Waiting On", "Not Started"))
        else:
            status = "Not Started"
        done = status in DONE
        return Milestone(
            id=self.uuid(),
            timeline_id=d.id,
            status=status,
            plan=plan,
            due=due,
            rev=due + rng.randrange(-3, 4) * TICKS_PER_DAY if rng.random() < 0.2 else None,
            final=self.instant(due - 2 * TICKS_PER_DAY, 4) if done else None,
            assigned_to=rng.sample(self.users, rng.choice((0, 0, 1, 1, 2))),
            share_with=rng.sample(self.partners, rng.choice((0, 0, 0, 1))),
            late=due < TODAY and not done,
            submits_quantity=rng.choice((0, 0, 0, 1, 2)),
            page=d.page_name,
        )

    def row(self, plan: Plan, kind: str, order: int, header: Header | None = None) -> Row:
        """A style/material row in `plan` with one milestone per definition."""
        rng = self.rng
        color_name, color_number = rng.choice(COLORS)
        supplier = rng.choice(self.partners) if rng.random() < 0.6 else None
        created = self.instant(plan.created_at, 20)
        return Row(
            id=self.uuid(),
            plan_id=plan.id,
            kind=kind,
            header=header or self.header(kind),
            color_id=self.uuid(),
            color_number=color_number,
            color_name=color_name,
            size=rng.choice(SIZES),
            supplier=supplier,
            modified_at=created,
            modified_by=rng.choice(self.users),
            milestones=[self.milestone(d, created) for d in plan.defs(kind)],
            order=order,
        )

    def uuid_for(self, name: str) -> str:
        """A stable id for a named thing (suppliers are shared across rows)."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"beproduct-fake:{name}"))

    def plan(self, folder: Folder, index: int, sizes: Sizes) -> Plan:
        """A plan in `folder` with its definitions and rows."""
        rng = self.rng
        season = SEASONS[index % len(SEASONS)]
        start = to_ticks("2025-09-01T00:00:00Z") + rng.randrange(0, 90) * TICKS_PER_DAY
        created = start - self.instant(0, 30) - 3600 * TICKS_PER_SECOND
        by = rng.choice(self.users)
        plan = Plan(
            id=self.uuid(),
            name=f"{folder.brand} 2026 {season} DROP {index // 4 + 1}",
            description=f"{season.title()} 2026 line, drop {index // 4 + 1}",
            folder_id=folder.id,
            start=start,
            end=start + 300 * TICKS_PER_DAY,
            active=rng.random() < 0.9,
            created_at=created,
            modified_at=self.instant(created, 10),
            created_by=by,
            modified_by=rng.choice(self.users),
            style_defs=self.definitions(sizes.milestones, TASKS, start),
            material_defs=self.definitions(sizes.material_milestones, MATERIAL_TASKS, start),
        )
        headers: list[Header] = []
        for i in range(sizes.styles):
            # A style often sits in a plan more than once, one row per colourway.
            reuse = headers and rng.random() < 0.3
            row = self.row(plan, "Style", i, rng.choice(headers) if reuse else None)
            headers.append(row.header)
            plan.styles[row.id] = row
        for i in range(sizes.materials):
            row = self.row(plan, "Material", i)
            plan.materials[row.id] = row
        return plan

    def folders(self, sizes: Sizes) -> list[Folder]:
        """The tracking folders."""
        out = []
        for i in range(sizes.folders):
            brand = BRANDS[i % len(BRANDS)]
            created = to_ticks("2024-01-15T00:00:00Z") + self.instant(0, 300)
            name = brand if i < len(BRANDS) else f"{brand} {i // len(BRANDS) + 1}"
            folder = Folder(self.uuid(), name, brand, True, created, self.instant(created, 30))
            folder.description = f"{brand} tracking plans"
            out.append(folder)
        return out
