"""The topology a run went against, as a picture: drawn from what was deployed (the run's outputs and the
consumer and backend as the evidence found them), never from the settings.

One graph, two renderings: Mermaid text (which GitHub and the documentation draw, and which a reader can
paste) and the report's own SVG geometry (the report runs no script), laid out as the pattern flows: left
to right from the senders to the backend, the dead-letter queue under the queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.evidence import Evidence

BOX_W, BOX_H, GAP, TOP, DLQ_TOP, MARGIN = 144, 58, 24, 16, 112, 8
LINE_CHARS = 24
"""A box's line is cut to this many characters (the whole text stays in its tooltip)."""


@dataclass(frozen=True)
class Node:
    key: str
    lines: tuple[str, ...]
    kind: str = "service"
    """service, queue, store, actor or missing (a piece the pattern expects that is not deployed)."""


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    dashed: bool = False


@dataclass
class Graph:
    chain: list[Node]
    """Left to right, from the senders to the backend."""
    below: list[tuple[str, Node]] = field(default_factory=list)
    """(the chain node it hangs under, the node): the dead-letter queue."""
    edges: list[Edge] = field(default_factory=list)


def graph(evidence: Evidence) -> Graph:
    outputs, backend = evidence.outputs, evidence.backend
    stage = outputs.webhook_url.rstrip("/").rsplit("/", 1)[-1]
    queue = outputs.queue_url.rstrip("/").rsplit("/", 1)[-1]
    chain = [
        Node("senders", ("webhook senders",), "actor"),
        Node("api", (outputs.entry_kind, f"stage {stage}")),
    ]
    edges = [Edge("senders", "api", "POST")]
    if outputs.ingress == "direct" or not outputs.publisher_name:
        edges.append(Edge("api", "queue", "SendMessage"))
    else:
        chain.append(Node("publisher", ("publisher", outputs.publisher_name)))
        edges += [Edge("api", "publisher", "invoke"), Edge("publisher", "queue", "SendMessage")]
    chain.append(Node("queue", ("SQS", queue), "queue"))
    chain.append(Node("subscriber", ("subscriber", outputs.subscriber_name, throttle(evidence))))
    edges.append(Edge("queue", "subscriber", "batches"))
    target = "subscriber"
    if outputs.backend_proxy != "none":
        chain.append(Node("proxy", ("RDS Proxy", "pgbouncer")))
        edges.append(Edge("subscriber", "proxy", "connections"))
        target = "proxy"
    capacity = "on demand"
    if backend is not None and backend.capacity is not None:
        capacity = f"capacity {backend.capacity:g} {backend.capacity_unit}"
    kind = backend.kind if backend is not None else outputs.backend
    chain.append(Node("backend", (kind, outputs.table_name, capacity), "store"))
    edges.append(Edge(target, "backend", "writes"))
    below = []
    if outputs.has_dlq:
        dlq = outputs.dlq_url.rstrip("/").rsplit("/", 1)[-1]
        below.append(("queue", Node("dlq", ("dead-letter queue", dlq), "queue")))
        edges.append(Edge("queue", "dlq", "after max receives", dashed=True))
    else:
        below.append(("queue", Node("dlq", ("no dead-letter queue",), "missing")))
    return Graph(chain, below, edges)


def throttle(evidence: Evidence) -> str:
    consumer = evidence.consumer
    if consumer.reserved_concurrency is not None:
        return f"reserved concurrency {consumer.reserved_concurrency}"
    if consumer.maximum_concurrency is not None:
        return f"MaximumConcurrency {consumer.maximum_concurrency}"
    return "no throttle"


def mermaid(drawn: Graph) -> str:
    """The graph as a Mermaid flowchart (left to right)."""
    shapes = {"actor": ("([", "])"), "queue": ("[(", ")]"), "store": ("[(", ")]"), "missing": ("[/", "/]")}
    lines = ["flowchart LR"]
    for node in [*drawn.chain, *(node for _, node in drawn.below)]:
        opening, closing = shapes.get(node.kind, ("[", "]"))
        text = "<br/>".join(_mermaid_text(line) for line in node.lines)
        lines.append(f'    {node.key}{opening}"{text}"{closing}')
    for edge in drawn.edges:
        arrow = "-.->" if edge.dashed else "-->"
        label = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
        lines.append(f"    {edge.source} {arrow}{label} {edge.target}")
    return "\n".join(lines)


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    lines: tuple[str, ...]
    kind: str

    @property
    def shown(self) -> tuple[str, ...]:
        return tuple(line if len(line) <= LINE_CHARS else line[: LINE_CHARS - 1] + "…" for line in self.lines)


@dataclass(frozen=True)
class Arrow:
    x1: float
    y1: float
    x2: float
    y2: float
    label: str
    dashed: bool


@dataclass
class Picture:
    width: float
    height: float
    boxes: list[Box]
    arrows: list[Arrow]
    box_w: float = BOX_W
    box_h: float = BOX_H


def picture(drawn: Graph) -> Picture:
    """The SVG geometry: a box per node, an arrow per edge (the markup is ``templates/_topology.html``)."""
    where: dict[str, tuple[float, float]] = {}
    boxes = []
    for index, node in enumerate(drawn.chain):
        x, y = MARGIN + index * (BOX_W + GAP), TOP
        where[node.key] = (x, y)
        boxes.append(Box(x, y, node.lines, node.kind))
    for parent, node in drawn.below:
        x, y = where[parent][0], DLQ_TOP
        where[node.key] = (x, y)
        boxes.append(Box(x, y, node.lines, node.kind))
    arrows = []
    for edge in drawn.edges:
        (sx, sy), (tx, ty) = where[edge.source], where[edge.target]
        if ty > sy:  # down, to the dead-letter queue
            arrows.append(Arrow(sx + BOX_W / 2, sy + BOX_H, tx + BOX_W / 2, ty, edge.label, edge.dashed))
        elif tx > sx + BOX_W:  # along the chain, possibly over a box it skips
            arrows.append(Arrow(sx + BOX_W, sy + BOX_H / 2, tx, ty + BOX_H / 2, edge.label, edge.dashed))
    width = MARGIN * 2 + len(drawn.chain) * BOX_W + (len(drawn.chain) - 1) * GAP
    return Picture(width, DLQ_TOP + BOX_H + MARGIN, boxes, arrows)
