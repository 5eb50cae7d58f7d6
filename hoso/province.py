"""`hoso province rebuild|check`: the service index's figures (the leaders' province view) for
dossiers stored before the store kept them, and a recount that checks them.

`rebuild` counts every dossier not counted yet (safe while the gateway runs: each dossier is
counted once, atomically, see `gateway/store/province.py`); `--from-scratch` first forgets every
figure and counts everything again (stop the gateway and the workers first: a dossier changed
while it runs may be counted wrong). `check` recounts from the dossiers with the core's rules
and prints every figure that differs (exit status 1).
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import redis

from gateway.core.service_index import Figures, settled_at_ms, share_of
from gateway.store import keys
from gateway.store.dossiers import DossierStore
from gateway.store.province import DESK, OFFICE, PROCEDURE, Counted, ProvinceFigures
from hoso.progress import Progress
from hoso.wiring import Subcommands, configured, store_client


def _estimate(client: redis.Redis) -> int:
    """Dossiers stored, as the lookup table counts them (a full and a short code each)."""
    return int(client.hlen(keys.lookup())) // 2


def _cmd_province(args: argparse.Namespace) -> int:
    client = store_client(configured())
    store = DossierStore(client)
    figures = ProvinceFigures(client)
    total = _estimate(client)
    if args.action == "check":
        return _check(store, figures, total)
    if args.from_scratch:
        deleted = figures.clear()
        with Progress("forget", total) as bar:
            for codes in store.all_codes():
                figures.forget(codes)
                bar.advance(len(codes))
        print(f"{deleted} key(s) of figures deleted")
    done = Counted()
    with Progress("count", total) as bar:
        for codes in store.all_codes():
            counted = figures.count(codes)
            if counted.left:  # stored before appointments were indexed: index them, count again
                store.index_by_due(codes)
                counted = Counted(counted.counted, counted.already, 0) + figures.count(codes)
            done += counted
            bar.advance(len(codes))
    print(
        f"{done.counted} dossier(s) counted, {done.already} counted before"
        + (f", {done.left} without an appointment (not counted)" if done.left else "")
    )
    return 0


def _check(store: DossierStore, figures: ProvinceFigures, total: int) -> int:
    groups: dict[tuple[str, str, str], tuple[Figures, int]] = defaultdict(lambda: (Figures(), 0))
    with Progress("recount", total) as bar:
        for codes in store.all_codes():
            for code in codes:
                dossier, history = store.get_with_history(code)
                share = share_of(dossier, settled_at_ms(history))
                one = Figures.of_shares([share])
                for group in (
                    (OFFICE, share.office, ""),
                    (PROCEDURE, share.office, share.procedure),
                    (DESK, share.office, share.desk),
                ):
                    sums, opened = groups[group]
                    groups[group] = (sums + one, opened + int(share.open))
            bar.advance(len(codes))
    wrong = 0
    for (kind, office, name), (expected, opened) in sorted(groups.items()):
        (row,) = figures.rows(kind, [(office, name)], 0)
        if row.figures != expected or row.open != opened:
            wrong += 1
            print(
                f"{kind} {office} {name}: stored {row.figures.finished} finished, "
                f"{row.open} open; recounted {expected.finished} finished, {opened} open"
            )
    print(f"{len(groups)} figure(s) recounted, {wrong} differ")
    return 1 if wrong else 0


def add_province(sub: Subcommands) -> None:
    pv = sub.add_parser(
        "province", help="the service index's figures: count stored dossiers, check them"
    )
    psub = pv.add_subparsers(dest="action", required=True)
    rebuild = psub.add_parser(
        "rebuild", help="count every dossier not counted yet (an upgrade step; progress bar)"
    )
    rebuild.add_argument(
        "--from-scratch",
        action="store_true",
        help="forget every figure and count all again (gateway and workers stopped)",
    )
    psub.add_parser("check", help="recount from the dossiers; print what differs (exit 1)")
    pv.set_defaults(func=_cmd_province)
