"""Generated sandbox scenarios for the benchmarks (format: sandbox-scenarios.md).

Deterministic for a seed. Ids are spaced so that a number in a request path says what it
is: customers 100000+, GitLab users 200000+, namespaces 300000+, tickets 400000+,
requesters (Zendesk end users) 500000+, agents 700000+.
"""
from __future__ import annotations

import random
from typing import Any

LICENSE_AND_RENEWALS = {"id": 361, "name": "License and Renewals"}
FIRST_LEVEL = {"id": 3432, "name": "First Level Support"}
AGENT_ID = 9000

_ADJ = ("acme", "blue", "bright", "cedar", "delta", "ember", "falcon", "granite", "harbor", "indigo",
        "juniper", "kestrel", "lumen", "maple", "nimbus", "onyx", "pioneer", "quartz", "river", "summit",
        "tidal", "umber", "vertex", "willow", "xenon", "yonder", "zephyr", "north", "polar", "copper")
_NOUN = ("robotics", "labs", "data", "systems", "media", "health", "logistics", "analytics", "works",
         "software", "cloud", "energy", "foods", "bank", "games", "studio", "networks", "retail",
         "security", "devices", "mobility", "learning", "bio", "finance", "apps", "forge", "ops")
_FIRST = ("Ada", "Bea", "Cyd", "Dana", "Eve", "Fox", "Gus", "Hal", "Ivy", "Jay", "Kim", "Lee", "Mo",
          "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Uma", "Vik", "Wen", "Xavi", "Yara", "Zoe")
_LAST = ("Lovelace", "Brown", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jones",
         "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Patel", "Quist", "Rossi", "Singh", "Tanaka")

# (category, weight, subject, description). {sub} {group} {old} {plan} {seats} {name} {company}
# {email} fill in; a ticket names real records for some customers and invented ones for others.
TEMPLATES = (
    ("associate", 30, "{plan} subscription not showing on our group",
     "Hi,\n\nwe bought GitLab {plan} last week (subscription {sub}, {seats} seats), but our group "
     "https://gitlab.com/groups/{group} still shows the Free plan. Could you apply the subscription "
     "to the group?\n\nThanks,\n{name}, {company}"),
    ("associate", 15, "Please link {sub} to {group}",
     "Hello support,\n\nI cannot find our group in the customers portal when I try to link the "
     "subscription {sub}. The group is gitlab.com/{group}. Can you associate it for us?\n\nBest "
     "regards\n{name}"),
    ("namespace_taken", 10, "Group greyed out when linking subscription",
     "When I try to link {sub} in the customers portal, {group} is greyed out in the list of groups. "
     "It looks like another subscription is still attached to it. We want the new one applied.\n\n{name}"),
    ("portal_502", 8, "502 Bad Gateway when linking our subscription",
     "Every time I try to link {sub} to https://gitlab.com/groups/{group} in the customers portal I "
     "get a 502 Bad Gateway error. I think my portal account is linked to the wrong GitLab.com "
     "account.\n\n{name}, {company}"),
    ("account_link", 8, "Former employee's GitLab account linked to our portal account",
     "Hi, I am the new GitLab administrator at {company}. Our customers portal account ({email}, "
     "subscription {sub} on https://gitlab.com/groups/{group}) is still linked to a former "
     "employee's GitLab.com account. Please unlink it so that I can link mine.\n\n{name}"),
    ("compute_minutes", 6, "Compute minutes we bought are not applied",
     "We purchased 10,000 additional compute minutes ({sub}) for https://gitlab.com/{group} two days "
     "ago, but the quota on the usage page did not change. Pipelines are blocked.\n\n{name}"),
    ("move", 8, "Please move our subscription to our new group",
     "Hi,\n\nwe moved all our projects from https://gitlab.com/groups/{old} to "
     "https://gitlab.com/groups/{group}. Please move subscription {sub} to the new group. The old "
     "group's owner has left the company.\n\n{name}, {company}"),
    ("other", 10, "Locked out after losing my 2FA device",
     "I lost my phone and cannot sign in to GitLab.com any more; my recovery codes are gone too. "
     "How do I get back into my account?\n\n{name}"),
    ("other", 5, "Question about our invoice",
     "Hello, our finance team needs a copy of last month's invoice with our VAT number on it. "
     "Who can help with that?\n\nThanks, {name} ({company})"),
)


def _company(rng: random.Random, used: set[str]) -> str:
    while True:
        slug = f"{rng.choice(_ADJ)}-{rng.choice(_NOUN)}"
        if slug in used:
            slug = f"{slug}-{rng.randrange(10, 999)}"
        if slug not in used:
            used.add(slug)
            return slug


def base(agent_ids: tuple[int, ...] = (AGENT_ID,)) -> dict[str, Any]:
    """An empty world with the Zendesk groups and agents of License and Renewals (the
    default policy lets them run every workflow)."""
    users = [{"id": a, "email": f"agent{a}@vendor.test", "name": f"Agent {a}",
              "role": "agent", "group_ids": [LICENSE_AND_RENEWALS["id"]]} for a in agent_ids]
    return {"portal": {"customers": [], "subscriptions": []},
            "gitlab": {"users": [], "namespaces": [], "members": []},
            "zendesk": {"groups": [LICENSE_AND_RENEWALS, FIRST_LEVEL], "users": users, "tickets": []}}


def add_customer(world: dict[str, Any], i: int, slug: str, rng: random.Random, *,
                 linked_elsewhere: bool = False, seats: int | None = None,
                 billable: int | None = None) -> dict[str, Any]:
    """One customer with everything around it: portal customer and seats subscription,
    GitLab user owning a top-level group, and a Zendesk requester. Returns the names."""
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    email = f"{first.lower()}.{last.lower()}{i}@{slug}.test"
    return _customer(world, i, slug, email, first, last, rng, linked_elsewhere, seats, billable)


def _customer(world, i, slug, email, first, last, rng, linked_elsewhere, seats, billable):
    seats = seats if seats is not None else rng.choice((5, 10, 20, 25, 50, 100))
    billable = billable if billable is not None else max(1, seats - rng.randrange(0, 5))
    plan = rng.choice(("premium", "premium", "ultimate"))
    ids = {"customer": 100000 + i, "user": 200000 + i, "namespace": 300000 + i,
           "requester": 500000 + i}
    sub = f"A-S{10000000 + i:08d}"
    world["portal"]["customers"].append({
        "id": ids["customer"], "email": email, "name": f"{first} {last}",
        "company": slug.replace("-", " ").title(), "gitlab_user_id": ids["user"]})
    world["gitlab"]["users"].append({"id": ids["user"], "username": f"{first.lower()}{i}", "email": email,
                                     "name": f"{first} {last}"})
    world["gitlab"]["namespaces"].append({"id": ids["namespace"], "full_path": slug, "kind": "group",
                                          "billable_members_count": billable})
    world["gitlab"]["members"].append({"namespace_id": ids["namespace"], "user_id": ids["user"],
                                       "access_level": 50})
    world["portal"]["subscriptions"].append({
        "name": sub, "customer_id": ids["customer"], "product": "saas", "kind": "seats",
        "plan_code": plan, "seats": seats, "status": "active", "start_date": "2026-01-01",
        "end_date": "2027-01-01",
        "namespace_id": ids["namespace"] if linked_elsewhere else None})
    world["zendesk"]["users"].append({"id": ids["requester"], "email": email, "name": f"{first} {last}",
                                      "role": "end-user"})
    return {**ids, "sub": sub, "group": slug, "email": email, "name": f"{first} {last}",
            "company": slug.replace("-", " ").title(), "plan": plan.title(), "seats": seats}


def storm(tickets: int, seed: int = 20261121) -> dict[str, Any]:
    """`tickets` tickets from about half as many customers. Of the tickets that name a
    subscription and a group, about 70 % name ones that exist, the rest invented ones (a
    typo, an old group), as real tickets do."""
    rng = random.Random(seed)
    world = base()
    used: set[str] = set()
    customers = [add_customer(world, i, _company(rng, used), rng,
                              linked_elsewhere=rng.random() < 0.15)
                 for i in range(max(10, tickets // 2))]
    weights = [t[1] for t in TEMPLATES]
    for n in range(tickets):
        c = customers[n % len(customers)]
        category, _, subject, description = rng.choices(TEMPLATES, weights)[0]
        real = rng.random() < 0.7
        names = dict(c)
        if not real:
            names["sub"] = f"A-S{rng.randrange(90000000, 99999999):08d}"
            names["group"] = f"{c['group']}-{rng.choice(('old', 'new', 'team', 'prod'))}"
        names["old"] = f"{c['group']}-legacy"
        world["zendesk"]["tickets"].append({
            "id": 400000 + n, "requester_id": c["requester"],
            "status": rng.choice(("new", "new", "open")),
            "subject": subject.format(**names), "description": description.format(**names),
            "tags": [] if category == "other" else ["subscription"]})
    return world


RUN_AGENT_BASE = 700000


def runs(pairs: int, *, group_counts: tuple[int, ...] = (10, 10_000), seed: int = 7) -> dict[str, Any]:
    """`pairs` independent force-associate cases, pair i: subscription A-S1<i:07d> (12 seats,
    active, unlinked), group bench-ns-<i:05d> (10 billable members) owned by the linked
    GitLab user, ticket 400000+i from the customer, and its own agent 700000+i (so every
    upstream request of run i names something of run i).

    Then one case per entry of `group_counts`, at pair indices 90000, 90001, ...: the linked
    user is an Owner of that many groups (the target group being one of them).
    """
    rng = random.Random(seed)
    extra = [90000 + k for k in range(len(group_counts))]
    world = base(tuple(RUN_AGENT_BASE + i for i in (*range(pairs), *extra)))
    for i in (*range(pairs), *extra):
        slug = f"bench-ns-{i:05d}"
        c = _customer(world, i, slug, f"owner@{slug}.test", "Olivia", "Owner", rng, False, 12, 10)
        world["zendesk"]["tickets"].append({
            "id": 400000 + i, "requester_id": c["requester"], "status": "open",
            "subject": f"Please link {c['sub']} to {slug}",
            "description": f"Hi, please link subscription {c['sub']} to https://gitlab.com/groups/{slug}. "
                           "The group is ours, other subscriptions may still be attached.\n\nOlivia"})
    next_id = 600000
    for k, count in enumerate(group_counts):
        user = 200000 + extra[k]
        for g in range(count - 1):  # the pair's own group is the count-th
            world["gitlab"]["namespaces"].append({"id": next_id, "full_path": f"grp-{k}-{g:05d}",
                                                  "kind": "group", "billable_members_count": 3})
            world["gitlab"]["members"].append({"namespace_id": next_id, "user_id": user,
                                               "access_level": rng.choice((30, 40, 50))})
            next_id += 1
    return world
