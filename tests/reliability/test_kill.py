"""kill -9, mid-flow, of a web worker and of the task worker: every vote, flag and explanation the site
answered with success is in the database, and the scores queued meanwhile complete after a restart."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from featurepedia.web.explanations.models import Explanation, ExplanationScore
from tests.reliability.player import Player, missing_writes
from tests.reliability.test_worker import wait_for
from tests.reliability.world_load import load_world

pytestmark = [pytest.mark.services, pytest.mark.slow]


def test_killing_web_and_task_workers_mid_flow_loses_no_answered_write(world, make_user, stack):
    data = load_world(world, make_user, players=6)
    site = stack(web_workers=2, FEATUREPEDIA_TASK_STALE_AFTER="5", FEATUREPEDIA_API_RATE_ANONYMOUS="0")
    stop = threading.Event()
    players: list[Player] = []
    for i, name in enumerate(data["cookies"]):
        session = requests.Session()
        session.cookies.set("sessionid", data["cookies"][name], domain="127.0.0.1")
        players.append(Player(session, name, data["campaign"], data["feature_ids"], base=site.url, seed=i))

    def play(p: Player) -> None:
        while not stop.is_set():
            try:
                p.answer(*p.next_puzzle())
            except requests.RequestException:
                time.sleep(0.2)  # a killed worker reset this connection: the answer was not confirmed

    threads = [threading.Thread(target=play, args=(p,), daemon=True) for p in players]
    for t in threads:
        t.start()
    try:
        def confirmed() -> int:
            return sum(len(p.writes) for p in players)

        wait_for(lambda: confirmed() >= 15, what="players to get answers through")
        killed = [site.kill_web_worker()]
        wait_for(lambda: confirmed() >= 30, what="answers after a web worker was killed")
        site.kill_worker()
        killed.append(site.kill_web_worker())
        wait_for(lambda: confirmed() >= 45, what="answers after the task worker was killed")
        wait_for(lambda: len(site.web_pids()) == 2 and not set(killed) & set(site.web_pids()),
                 what="gunicorn to replace the killed web workers")
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    writes = [w for p in players for w in p.writes]
    assert not [s for p in players for s in p.statuses if s >= 500], site.tail()
    assert not missing_writes(writes, data["users"]), site.tail()

    site.start_worker()  # the queue left by the killed worker (and its claim) is finished by a new one
    wait_for(lambda: not DBTaskResult.objects.exclude(status=TaskResultStatus.SUCCESSFUL).exists(),
             what="the restarted worker to finish the queue")
    human = Explanation.objects.filter(method="human", author__username__startswith="player")
    assert human.exists()
    unscored = ExplanationScore.objects.filter(explanation__in=human).exclude(status=ExplanationScore.Status.OK)
    assert not unscored.exists() and ExplanationScore.objects.filter(explanation__in=human).count() == human.count()
