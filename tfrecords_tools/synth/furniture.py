"""Procedurally generated furniture (chairs, tables, sofas, benches, bookshelves), built from
closed parts like the cars.

x = depth (the front, where one sits or reaches in, at +x), y = up, z = width; metres. Each
category has a few archetypes whose continuous parameters are jittered per object.
"""
import numpy as np

from tfrecords_tools.synth.archetypes import color, draw, thick
from tfrecords_tools.synth.parts import Part, bar, box, cylinder, solid_of_revolution

# Chairs: seat width (z), depth (x), height (top of the seat), seat thickness, leg thickness,
# back height above the seat, back tilt (degrees), back thickness, armrest height above the seat.
CHAIRS = {
    "side": dict(width=0.45, depth=0.44, height=0.45, seat=0.05, leg=0.04, back=0.42, tilt=8.0, back_thick=0.04,
                 arms=0.0),
    "armchair": dict(width=0.58, depth=0.52, height=0.43, seat=0.09, leg=0.05, back=0.45, tilt=12.0,
                     back_thick=0.08, arms=0.22),
    "tall_back": dict(width=0.48, depth=0.48, height=0.46, seat=0.05, leg=0.04, back=0.78, tilt=6.0,
                      back_thick=0.05, arms=0.0),
    "stool": dict(width=0.38, depth=0.38, height=0.72, seat=0.05, leg=0.035, back=0.0, tilt=0.0, back_thick=0.0,
                  arms=0.0),
    "office": dict(width=0.50, depth=0.48, height=0.48, seat=0.09, leg=0.035, back=0.55, tilt=12.0,
                   back_thick=0.07, arms=0.20),
}
# Tables: top length (x), width (z), height, top thickness, leg thickness, leg inset from the edge.
TABLES = {
    "dining": dict(length=1.6, width=0.9, height=0.75, top=0.04, leg=0.06, inset=0.06),
    "square": dict(length=0.8, width=0.8, height=0.74, top=0.035, leg=0.05, inset=0.04),
    "round": dict(length=1.1, width=1.1, height=0.74, top=0.04, leg=0.12, inset=0.0),
    "coffee": dict(length=1.1, width=0.6, height=0.42, top=0.05, leg=0.06, inset=0.03),
    "desk": dict(length=1.4, width=0.7, height=0.75, top=0.035, leg=0.04, inset=0.0),
    "bar": dict(length=0.7, width=0.7, height=1.05, top=0.04, leg=0.09, inset=0.0),
}


def corners(half_x: float, half_z: float) -> list[tuple[float, float]]:
    """The four (x, z) corners of a centred rectangle."""
    return [(sx * half_x, sz * half_z) for sx in (-1, 1) for sz in (-1, 1)]


def chair_legs(p: dict, size: float, frame: tuple) -> list[Part]:
    """Four legs under the seat, tapering to the floor; the stool's are splayed and joined by a footrest."""
    leg, top = thick(p["leg"], size), p["height"] - p["seat"] + 0.01
    splay = 0.08 if p["kind"] == "stool" else 0.0
    reach_x, reach_z = p["depth"] / 2 - leg, p["width"] / 2 - leg
    if p["kind"] == "stool":
        reach_x = reach_z = 0.7 * p["width"] / 2
    parts = []
    feet = []
    for x, z in corners(reach_x, reach_z):
        foot = (x * (1 + splay / reach_x), 0.0, z * (1 + splay / reach_z))
        feet.append(foot)
        parts.append(bar(foot, (x, top, z), (leg / 2, leg / 2), frame, taper=1.15))
    if p["kind"] == "stool":
        rail = 0.35 * top
        ring = [(f[0] + (x - f[0]) * 0.35, rail, f[2] + (z - f[2]) * 0.35) for f, (x, z) in
                zip(feet, corners(reach_x, reach_z))]
        for a, b in ((0, 1), (1, 3), (3, 2), (2, 0)):
            parts.append(bar(ring[a], ring[b], (leg / 2.5, leg / 2.5), frame, side=(0.0, 1.0, 0.0)))
    return parts


def office_base(p: dict, size: float, frame: tuple) -> list[Part]:
    """A gas-lift column on a five-spoke star with a foot block at each end."""
    leg = thick(p["leg"], size)
    parts = [cylinder("y", (0.0, 0.0, 0.0), 0.03 + leg / 2, 0.06, p["height"] - p["seat"] + 0.01, frame)]
    for k in range(5):
        angle = 2 * np.pi * k / 5
        end = (0.32 * np.cos(angle), 0.05, 0.32 * np.sin(angle))
        parts.append(bar((0.0, 0.08, 0.0), end, (leg / 2, leg / 2), frame, side=(0.0, 1.0, 0.0)))
        parts.append(box((end[0] - leg, 0.0, end[2] - leg), (end[0] + leg, 0.06, end[2] + leg), frame))
    return parts


def chair_back(p: dict, size: float, frame: tuple, cushion: tuple) -> list[Part]:
    """A backrest leaning back by the tilt: a panel (tall, office, armchair) or posts with two rails."""
    seat_top, back_thick = p["height"], thick(p["back_thick"], size)
    x0 = -p["depth"] / 2 + back_thick / 2
    lean = np.radians(p["tilt"])
    top = (x0 - p["back"] * np.sin(lean), seat_top + p["back"] * np.cos(lean))
    if p["kind"] != "side":
        return [bar((x0, seat_top - p["seat"], 0.0), (top[0], top[1], 0.0), (back_thick / 2, p["width"] / 2), cushion)]
    post = thick(p["leg"], size)
    parts = []
    for z in (-1, 1):
        zz = z * (p["width"] / 2 - post / 2)
        parts.append(bar((x0, seat_top - p["seat"], zz), (top[0], top[1], zz), (post / 2, post / 2), frame))
    for along in (0.55, 0.92):
        x, y = x0 + along * (top[0] - x0), seat_top + along * (top[1] - seat_top)
        rail = (0.09 if along > 0.9 else 0.06) / 2
        parts.append(bar((x, y, -p["width"] / 2), (x, y, p["width"] / 2), (rail, post / 2), frame,
                         side=(1.0, 0.0, 0.0)))
    return parts


def chair_arms(p: dict, size: float, frame: tuple) -> list[Part]:
    """Two armrests on front posts."""
    arm = thick(0.05, size)
    y = p["height"] + p["arms"]
    parts = []
    for z in (-1, 1):
        zz = z * (p["width"] / 2 - arm / 2)
        front = p["depth"] / 2 - 0.05
        parts.append(bar((front, p["height"] - 0.02, zz), (front, y, zz), (arm / 2, arm / 2), frame))
        parts.append(bar((-p["depth"] / 2, y, zz), (p["depth"] / 2, y, zz), (arm / 2, arm / 2), frame))
    return parts


def chair_object(rng: np.random.Generator) -> tuple[str, list[Part]]:
    """An archetype name and the parts of one chair."""
    kind, p = draw(rng, CHAIRS)
    p["kind"] = kind
    frame, cushion = color(rng, 0.1, 0.8), color(rng)
    size = max(p["height"] + p["back"], p["width"], p["depth"])
    seat = thick(p["seat"], size)
    if kind == "stool":
        parts = [cylinder("y", (0.0, 0.0, 0.0), p["width"] / 2, p["height"] - seat, p["height"], cushion)]
    else:
        half_d, half_w = p["depth"] / 2, p["width"] / 2
        parts = [box((-half_d, p["height"] - seat, -half_w), (half_d, p["height"], half_w), cushion)]
    parts += office_base(p, size, frame) if kind == "office" else chair_legs(p, size, frame)
    if p["back"] > 0:
        parts += chair_back(p, size, frame, cushion)
    if p["arms"] > 0:
        parts += chair_arms(p, size, frame)
    return kind, parts


def table_top(p: dict, top: float, wood: tuple) -> Part:
    """The top: a slab, or a disc for round and bar tables."""
    if p["kind"] in ("round", "bar"):
        return cylinder("y", (0.0, 0.0, 0.0), p["length"] / 2, p["height"] - top, p["height"], wood, sections=32)
    return box((-p["length"] / 2, p["height"] - top, -p["width"] / 2), (p["length"] / 2, p["height"], p["width"] / 2),
               wood)


def pedestal(p: dict, size: float, top: float, metal: tuple) -> list[Part]:
    """A column on a disc (round) or on four feet (bar)."""
    column = thick(p["leg"], size) / 2
    parts = [solid_of_revolution("y", (0.0, 0.0, 0.0), [1.4 * column, column, column, 1.6 * column],
                                 [0.0, 0.12, p["height"] - top - 0.08, p["height"] - top + 0.01], metal)]
    foot = thick(0.04, size)
    if p["kind"] == "round":
        parts.append(cylinder("y", (0.0, 0.0, 0.0), 0.3 * p["length"], 0.0, foot, metal, sections=32))
    else:
        for k in range(4):
            angle = np.pi / 4 + np.pi * k / 2
            end = (0.38 * p["length"] * np.cos(angle), 0.0, 0.38 * p["length"] * np.sin(angle))
            parts.append(bar((0.0, foot / 2, 0.0), (end[0], foot / 2, end[2]), (foot / 2, foot / 2), metal,
                             side=(0.0, 1.0, 0.0)))
    return parts


def table_legs(p: dict, size: float, top: float, frame: tuple, wood: tuple) -> list[Part]:
    """Four tapered legs with an apron; the coffee table adds a shelf, the desk has side panels instead."""
    leg = thick(p["leg"], size)
    under = p["height"] - top
    half_x, half_z = p["length"] / 2 - p["inset"] - leg / 2, p["width"] / 2 - p["inset"] - leg / 2
    if p["kind"] == "desk":
        panel = thick(p["leg"], size)
        parts = [box((-p["length"] / 2 + s, 0.0, -p["width"] / 2 + 0.02), (-p["length"] / 2 + s + panel, under + 0.01,
                                                                        p["width"] / 2 - 0.02), frame)
                 for s in (0.0, p["length"] - panel)]
        parts.append(box((-p["length"] / 2 + panel, 0.35 * under, -p["width"] / 2 + 0.05),
                         (p["length"] / 2 - panel, under + 0.01, -p["width"] / 2 + 0.05 + panel), frame))
        return parts
    parts = [bar((x, 0.0, z), (x, under + 0.01, z), (0.35 * leg, 0.35 * leg), frame, taper=1.0 / 0.7)
             for x, z in corners(half_x, half_z)]
    apron = thick(0.07, size)
    parts.append(box((-half_x, under - apron, -half_z), (half_x, under + 0.01, half_z), frame))
    if p["kind"] == "coffee":
        shelf = thick(0.025, size)
        parts.append(box((-half_x, 0.12, -half_z), (half_x, 0.12 + shelf, half_z), wood))
    return parts


def table_object(rng: np.random.Generator) -> tuple[str, list[Part]]:
    """An archetype name and the parts of one table."""
    kind, p = draw(rng, TABLES)
    p["kind"] = kind
    if kind in ("round", "bar"):
        p["width"] = p["length"]
    wood, frame = color(rng, 0.2, 0.9), color(rng, 0.05, 0.7)
    size = max(p["length"], p["width"], p["height"])
    top = thick(p["top"], size)
    legs = pedestal(p, size, top, frame) if kind in ("round", "bar") else table_legs(p, size, top, frame, wood)
    return kind, [table_top(p, top, wood)] + legs


# Sofas: width (z), depth (x), seat height, back height, arm height, arm width, foot height,
# seat cushions; the corner sofa adds a chaise of `chaise` length on one side.
SOFAS = {
    "two_seater": dict(width=1.6, depth=0.9, height=0.44, back=0.85, arm_height=0.62, arm=0.18, foot=0.1, cushions=2.0,
                       chaise=0.0),
    "three_seater": dict(width=2.2, depth=0.95, height=0.43, back=0.88, arm_height=0.6, arm=0.2, foot=0.08,
                         cushions=3.0, chaise=0.0),
    "armless": dict(width=1.4, depth=0.8, height=0.42, back=0.75, arm_height=0.0, arm=0.0, foot=0.14, cushions=2.0,
                    chaise=0.0),
    "corner": dict(width=2.4, depth=0.95, height=0.43, back=0.85, arm_height=0.6, arm=0.18, foot=0.08, cushions=3.0,
                   chaise=0.8),
}
# Benches: length (z), depth (x), seat height, seat thickness, leg thickness, back height (0: none).
BENCHES = {
    "plank": dict(length=1.5, depth=0.35, height=0.45, seat=0.05, leg=0.05, back=0.0),
    "slatted": dict(length=1.8, depth=0.45, height=0.45, seat=0.04, leg=0.06, back=0.0),
    "park": dict(length=1.8, depth=0.55, height=0.45, seat=0.04, leg=0.06, back=0.45),
}
# Bookshelves: height, width (z), depth (x), board thickness, shelf spacing, columns.
BOOKSHELVES = {
    "tall": dict(height=1.8, width=0.8, depth=0.3, board=0.025, spacing=0.35, columns=1.0),
    "wide": dict(height=1.0, width=1.6, depth=0.35, board=0.025, spacing=0.32, columns=2.0),
    "cube": dict(height=1.5, width=1.5, depth=0.38, board=0.03, spacing=0.36, columns=4.0),
    "low": dict(height=0.6, width=1.2, depth=0.3, board=0.03, spacing=0.28, columns=3.0),
}


def sofa_object(rng: np.random.Generator) -> tuple[str, list[Part]]:
    """An archetype name and the parts of one sofa: base, cushions, back, arms, feet (and a chaise)."""
    kind, p = draw(rng, SOFAS)
    fabric, cushion, wood = color(rng, 0.1, 0.85), color(rng, 0.1, 0.9), color(rng, 0.05, 0.5)
    size = max(p["width"], p["depth"] + p["chaise"], p["back"])
    half_w, arm = p["width"] / 2, thick(p["arm"], size) if p["arm_height"] > 0 else 0.0
    seat_thick, back_thick = thick(0.15, size), thick(0.2, size)
    front, rear = p["depth"] / 2, -p["depth"] / 2
    base_top = p["height"] - seat_thick
    parts = [box((rear, p["foot"], -half_w), (front, base_top, half_w), fabric),
             box((rear, p["foot"], -half_w), (rear + back_thick, p["back"], half_w), fabric)]
    cushions = int(round(p["cushions"]))
    inner = np.linspace(-half_w + arm, half_w - arm, cushions + 1)
    for z0, z1 in zip(inner[:-1], inner[1:]):
        parts.append(box((rear + back_thick, base_top - 0.01, z0 + 0.005), (front, p["height"], z1 - 0.005), cushion))
    if p["chaise"] > 0:
        chaise_lo = (front - 0.01, p["foot"], half_w - 0.7 * p["depth"])
        parts.append(box(chaise_lo, (front + p["chaise"], p["height"], half_w), cushion))
    for side in (-1, 1):
        if arm > 0:
            z0, z1 = sorted((side * half_w, side * (half_w - arm)))
            parts.append(box((rear, p["foot"], z0), (front, p["arm_height"], z1), fabric))
    foot = thick(0.05, size)
    reach_x = front + p["chaise"] - foot if p["chaise"] > 0 else front - foot
    for x, z in ((rear + foot, -half_w + foot), (rear + foot, half_w - foot), (front - foot, -half_w + foot),
                 (reach_x, half_w - foot)):
        parts.append(box((x - foot / 2, 0.0, z - foot / 2), (x + foot / 2, p["foot"] + 0.01, z + foot / 2), wood))
    return kind, parts


def bench_back(p: dict, under: float, leg: float, seat: float, wood: tuple, frame: tuple) -> list[Part]:
    """A park bench's backrest: two posts leaning back from the rear legs, two slats on them."""
    half_l, half_d = p["length"] / 2, p["depth"] / 2
    foot, top = (-half_d + leg / 2, under), (-half_d - 0.12, p["height"] + p["back"])
    parts = [bar((*foot, z), (*top, z), (leg / 2, leg / 2), frame) for z in (-half_l + 0.1, half_l - 0.1)]
    for level in (0.5, 0.9):
        x, y = (a + level * (b - a) for a, b in zip(foot, top))
        parts.append(bar((x + leg / 2, y, -half_l), (x + leg / 2, y, half_l), (0.05, seat / 2), wood,
                         side=(1.0, 0.0, 0.0)))
    return parts


def bench_object(rng: np.random.Generator) -> tuple[str, list[Part]]:
    """An archetype name and the parts of one bench: a plank on slab legs, or slats on a frame."""
    kind, p = draw(rng, BENCHES)
    wood, frame = color(rng, 0.25, 0.9), color(rng, 0.05, 0.6)
    size = max(p["length"], p["height"] + p["back"])
    seat, leg = thick(p["seat"], size), thick(p["leg"], size)
    half_l, half_d, under = p["length"] / 2, p["depth"] / 2, p["height"] - seat
    if kind == "plank":
        parts = [box((-half_d, under, -half_l), (half_d, p["height"], half_l), wood)]
        for z in (-half_l + 0.12, half_l - 0.12 - leg):
            parts.append(box((-0.85 * half_d, 0.0, z), (0.85 * half_d, under + 0.01, z + leg), wood))
        return kind, parts
    edges = np.linspace(-half_d, half_d, (3 if kind == "slatted" else 4) + 1)
    gap = 0.15 * (edges[1] - edges[0])
    parts = [box((x0 + gap / 2, under, -half_l), (x1 - gap / 2, p["height"], half_l), wood)
             for x0, x1 in zip(edges[:-1], edges[1:])]
    for z in (-half_l + 0.1, half_l - 0.1):
        parts.append(box((-half_d, under - leg, z - leg / 2), (half_d, under + 0.01, z + leg / 2), frame))
        for x in (-half_d + leg / 2, half_d - leg / 2):
            parts.append(bar((x, 0.0, z), (x, under, z), (leg / 2, leg / 2), frame))
    if p["back"] > 0:
        parts += bench_back(p, under, leg, seat, wood, frame)
    return kind, parts


def bookshelf_object(rng: np.random.Generator) -> tuple[str, list[Part]]:
    """An archetype name and the parts of one bookshelf: sides, top, bottom, back, shelves, dividers."""
    kind, p = draw(rng, BOOKSHELVES)
    wood, back_color = color(rng, 0.2, 0.9), color(rng, 0.1, 0.9)
    size = max(p["height"], p["width"])
    board = thick(p["board"], size)
    half_w, half_d, top = p["width"] / 2, p["depth"] / 2, p["height"]
    parts = [box((-half_d, 0.0, side), (half_d, top, side + board), wood) for side in (-half_w, half_w - board)]
    levels = max(2, int(round(top / p["spacing"])))
    for y in np.linspace(0.0, top - board, levels + 1):
        parts.append(box((-half_d, y, -half_w + board - 0.005), (half_d, y + board, half_w - board + 0.005), wood))
    parts.append(box((-half_d, 0.0, -half_w), (-half_d + board, top, half_w), back_color))
    columns = max(1, int(round(p["columns"])))
    for z in np.linspace(-half_w, half_w, columns + 1)[1:-1]:
        parts.append(box((-half_d + board - 0.005, 0.0, z - board / 2), (half_d, top, z + board / 2), wood))
    return kind, parts
