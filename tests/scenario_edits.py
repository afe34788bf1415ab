"""Small named edits of the base scenario, so a test case reads as one sentence."""
from __future__ import annotations


def find(items, key, value):
    return next(i for i in items if i[key] == value)


def sub(name, **fields):
    def edit(s):
        find(s["portal"]["subscriptions"], "name", name).update(fields)
    return edit


def customer(cid, **fields):
    def edit(s):
        find(s["portal"]["customers"], "id", cid).update(fields)
    return edit


def namespace(nid, **fields):
    def edit(s):
        find(s["gitlab"]["namespaces"], "id", nid).update(fields)
    return edit


def user(uid, **fields):
    def edit(s):
        find(s["gitlab"]["users"], "id", uid).update(fields)
    return edit


def zendesk_user(uid, **fields):
    def edit(s):
        find(s["zendesk"]["users"], "id", uid).update(fields)
    return edit


def add_sub(**fields):
    def edit(s):
        s["portal"]["subscriptions"].append(fields)
    return edit


def add_user(**fields):
    def edit(s):
        s["gitlab"]["users"].append(fields)
    return edit


def drop_member(namespace_id, user_id):
    def edit(s):
        s["gitlab"]["members"] = [m for m in s["gitlab"]["members"]
                                  if (m["namespace_id"], m["user_id"]) != (namespace_id, user_id)]
    return edit


def drop_user(uid):
    def edit(s):
        s["gitlab"]["users"] = [u for u in s["gitlab"]["users"] if u["id"] != uid]
    return edit
