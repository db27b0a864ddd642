"""Grading on a Ray cluster (the ``ray`` extra): an actor pool for `quinebox grade --ray`, and a Ray Data UDF.

    import ray.data
    from quinebox.integrations.ray import QuineboxGrader

    graded = ray.data.read_json("samples.jsonl").map_batches(
        QuineboxGrader,
        fn_constructor_kwargs={"generations": 50},
        compute=ray.data.ActorPoolStrategy(size=8),
        num_cpus=1,
    )

Each actor is one worker of `quinebox.grade`: a `RowGrader` holding one warm lane pair for
every row it grades, so a row costs runs, not sandbox start-ups, and rows come out exactly as
local ``grade`` writes them (the same ``quinebox`` column). After an infrastructure error the
actor reopens its lanes and tries once more; a row that still fails gets verdict ``error``,
which a later run grades again.

Ray runs no cleanup hook on `ray.kill` or a crashed worker, so nothing here relies on one: the
sandbox is tied to the actor's process by the wall itself (bwrap's ``--die-with-parent``, the
container's time-to-live), and an actor that dies takes its sandbox with it. `RayEngine`
kills its actors when it ends, however it ends, and an actor lost mid-row has the row graded
again on a fresh actor (twice at most, then the run stops with `InfraError`).
"""

from __future__ import annotations

import importlib
import os
from collections import deque
from collections.abc import Generator
from dataclasses import replace
from typing import Any

from quinebox.errors import InfraError, UsageError
from quinebox.grade import RESULT_KEY, GradeOptions, Row, RowGrader
from quinebox.limits import Limits

__all__ = ["QuineboxGrader", "RayEngine"]

_ACTOR_DEATHS = 2


class QuineboxGrader:
    """A Ray Data callable class: adds the ``quinebox`` column that ``quinebox grade`` writes.

    Args:
        field: the column holding the model's response (or the program itself, with `raw`).
        id_field: the column identifying a row; rows without it are named by their place in the batch.
        raw: the field is the program itself, not a response.
        generations: N; programs P0..PN are run.
        sequence: ``fibonacci``, ``lucas`` or two seeds ``"a,b"``.
        sandbox: ``auto``, ``bwrap``, ``docker`` or ``none``.
        limits: per-run limits; defaults honour QUINEBOX_* variables on the worker.
        node_column: when given, also a column with the Ray node id that graded the row.
    """

    def __init__(
        self,
        *,
        field: str = "response",
        id_field: str = "id",
        raw: bool = False,
        generations: int = 50,
        sequence: str = "fibonacci",
        sandbox: str = "auto",
        limits: Limits | None = None,
        node_column: str | None = None,
    ) -> None:
        options = GradeOptions(
            text_field=field,
            id_field=id_field,
            raw=raw,
            generations=generations,
            sequence=sequence,
            sandbox=sandbox,
            jobs=1,
            retries=1,
        )
        self._options = options if limits is None else replace(options, limits=limits)
        self._grader = RowGrader(self._options)
        self._node_column = node_column

    def __call__(self, batch: Any) -> Any:
        """Grade a batch (a dict of columns, as numpy arrays or lists, or a pandas DataFrame)."""
        if hasattr(batch, "to_dict") and hasattr(batch, "columns"):  # pandas
            records = batch.to_dict("records")
            batch[RESULT_KEY] = [self._grade(index, record) for index, record in enumerate(records)]
            if self._node_column:
                batch[self._node_column] = _node_id()
            return batch
        columns = {name: list(values) for name, values in batch.items()}
        size = len(next(iter(columns.values()), []))
        records = [{name: _plain(values[i]) for name, values in columns.items()} for i in range(size)]
        out = dict(batch)
        out[RESULT_KEY] = _objects([self._grade(index, record) for index, record in enumerate(records)])
        if self._node_column:
            out[self._node_column] = _objects([_node_id()] * size)
        return out

    def _grade(self, index: int, record: dict[str, Any]) -> dict[str, Any]:
        text = record.get(self._options.text_field)
        if not isinstance(text, str):
            raise UsageError(f"row {index}: no text field {self._options.text_field!r}")
        key = str(record[self._options.id_field]) if record.get(self._options.id_field) is not None else f"row-{index}"
        return self._grader.grade(Row(index, key, record))

    def __del__(self) -> None:
        grader = getattr(self, "_grader", None)
        if grader is not None:
            grader.close()


class _GradeActor:
    """One Ray actor: a `RowGrader` and the node it runs on."""

    def __init__(self, options: GradeOptions) -> None:
        self._grader = RowGrader(options)

    def grade(self, row: Row) -> dict[str, Any]:
        return self._grader.grade(row)

    def node(self) -> str:
        return _node_id()

    def close(self) -> None:
        self._grader.close()


class RayEngine:
    """A `quinebox.grade.Engine` on a Ray actor pool: one actor per CPU of the cluster.

    Pass it to `quinebox.grade.grade_file` (``engine=RayEngine(address)``): resume, settings and
    summaries stay those of local grading, only the rows that need a sandbox go to the actors.
    After the run, `actors` and `nodes` say how many actors ran, on how many nodes.

    Args:
        address: the cluster (``auto``, ``HOST:PORT``, ``ray://...``); None joins the local one or starts it.
    """

    def __init__(self, address: str | None = None) -> None:
        self.address = address
        self.actors = 0
        self.nodes = 0

    def __call__(self, rows: list[Row], options: GradeOptions) -> Generator[tuple[Row, dict[str, Any]], None, None]:
        """Each row with its grade, as the actors finish them.

        Raises:
            InfraError: the cluster cannot be reached, or actors kept dying.
        """
        ray: Any = importlib.import_module("ray")  # typed as Any: Ray's own stubs are partial

        joined = not ray.is_initialized()
        try:
            if joined:
                ray.init(address=self.address, log_to_driver=False, include_dashboard=False, configure_logging=False)
        except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError and its own kinds
            raise InfraError(f"cannot reach the Ray cluster {self.address or '(local)'}: {exc}") from None
        actor_class = ray.remote(num_cpus=1, max_restarts=0)(_GradeActor)
        actors: list[Any] = []
        try:
            size = max(1, min(int(ray.cluster_resources().get("CPU", 1)), len(rows)))
            actors = [actor_class.remote(options) for _ in range(size)]
            self.actors = len(actors)
            self.nodes = len(set(ray.get([actor.node.remote() for actor in actors])))
            yield from _drive(ray, actor_class, options, actors, deque(rows))
        finally:
            for actor in actors:
                ray.kill(actor)
            if joined:
                ray.shutdown()


def _drive(
    ray: Any, actor_class: Any, options: GradeOptions, actors: list[Any], todo: deque[Row]
) -> Generator[tuple[Row, dict[str, Any]], None, None]:
    """Keep every actor busy with one row; yield each grade as it lands; replace an actor that dies."""
    idle, deaths = list(actors), 0
    pending: dict[Any, tuple[Any, Row]] = {}
    while todo or pending:
        while idle and todo:
            actor, row = idle.pop(), todo.popleft()
            pending[actor.grade.remote(row)] = (actor, row)
        ready, _ = ray.wait(list(pending), num_returns=1)
        actor, row = pending.pop(ready[0])
        try:
            grade: dict[str, Any] = ray.get(ready[0])
        except ray.exceptions.RayActorError as exc:
            deaths += 1
            if deaths > _ACTOR_DEATHS:
                raise InfraError(f"Ray actors keep dying ({deaths} lost): {exc}") from None
            replacement = actor_class.remote(options)
            actors[actors.index(actor)] = replacement
            idle.append(replacement)
            todo.appendleft(row)
            continue
        idle.append(actor)
        yield row, grade


def _node_id() -> str:
    ray: Any = importlib.import_module("ray")

    try:
        return str(ray.get_runtime_context().get_node_id())
    except Exception:  # noqa: BLE001 - outside Ray (a plain call of the class) there is no node
        return os.uname().nodename


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds; anything else as is."""
    item = getattr(value, "item", None)
    return item() if callable(item) and getattr(value, "shape", None) == () else value


def _objects(values: list[Any]) -> Any:
    import numpy as np

    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array
