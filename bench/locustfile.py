"""Locust's fastest user, for the side-by-side benchmark. BENCH_USER_RATE paces each
user (requests per second); without it users loop as fast as they can."""

from __future__ import annotations

import os

from locust import constant, constant_throughput, task
from locust.contrib.fasthttp import FastHttpUser

RATE = float(os.environ.get("BENCH_USER_RATE", "0"))


class Shopper(FastHttpUser):
    wait_time = constant_throughput(RATE) if RATE else constant(0)

    @task
    def home(self) -> None:
        self.client.get("/")
