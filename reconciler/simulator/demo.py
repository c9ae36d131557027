"""A demo partner's customer list, for ``--simulate``: every kind ``discover`` tells apart.

Seeded once, into a new simulated world, beside the customers the manifests name: legacy
candidates (some with commas and quotes in their names, as real company names have), customers
Partner Center refuses with a reason, upgrades under way and done outside the tool, and
customers without legacy Azure. Ids are derived from the names, so every new world is the same.
"""

from __future__ import annotations

import uuid

from reconciler.simulator.records import COMPLETED
from reconciler.simulator.world import World

_NAMESPACE = uuid.UUID("3f0c1c55-7d0e-4f7b-9a53-0f1d3b0c9e21")

LEGACY = (
    "Alpine Ski House", "Bellows College", "Best For You Organics Company", "Coho Winery",
    "Consolidated Messenger", "Fabrikam, Inc.", "First Up Consultants", "Fourth Coffee",
    "Graphic Design Institute", "Humongous Insurance", "Lamna Healthcare Company",
    "Litware, Inc.", 'Lucerne "Publishing"', "Margie's Travel", "Northwind Traders",
    "Proseware, Inc.", "Relecloud", "School of Fine Art", "Southridge Video",
    "Trey Research", "VanArsdel, Ltd.", "Wingtip Toys",
)
BLOCKED = (
    ("Woodgrove Bank", 403, 900105, "Customer has Azure subscriptions in suspended state."),
    ("Munson's Pickles and Preserves Farm", 403, 900130,
     "Azure subscriptions were purchased recently; try again later."),
    ("Datum Corporation", 403, 900119, "Azure Partner Shared Services cannot be upgraded."),
)
IN_PROGRESS = ("Blue Yonder Airlines", "City Power & Light")
UPGRADED = ("Adatum Corporation", "Contoso Pharmaceuticals", "Nod Publishers",
            "Tailwind Traders")
WITHOUT_LEGACY = ("Contoso Suites", "Lakeshore Retail", "Wide World Importers (Canada)")


def customer_id(name: str) -> str:
    """The demo customer's stable id."""
    return str(uuid.uuid5(_NAMESPACE, name))


def seed(world: World) -> None:
    """Add the demo partner's customers to ``world`` (in one batch: one save)."""
    with world.batch():
        for name in LEGACY:
            world.add_customer(customer_id(name), name)
        for name, status, code, description in BLOCKED:
            world.add_customer(customer_id(name), name, error=(status, code, description))
        for name in WITHOUT_LEGACY:
            world.add_customer(customer_id(name), name, legacy=False)
        for name in IN_PROGRESS + UPGRADED:
            world.add_customer(customer_id(name), name)
        for name in IN_PROGRESS:
            world.upgrade_out_of_band(customer_id(name))
        for name in UPGRADED:
            world.upgrade_out_of_band(customer_id(name), status=COMPLETED)


__all__ = ["customer_id", "seed"]
