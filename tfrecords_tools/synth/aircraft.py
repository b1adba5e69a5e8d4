"""Procedurally generated aircraft, built from closed parts like the cars.

x = length (the nose at +x), y = up, z = span; metres. Archetypes: airliner (swept low wing,
engines under it), business jet (engines on the tail, T-tail), fighter (delta wing, no
tailplane), propeller plane (straight high wing, propeller, fixed gear) and glider (long
slender wing, T-tail).
"""
import numpy as np

from tfrecords_tools.synth.archetypes import color, draw, thick
from tfrecords_tools.synth.parts import Part, bar, circle, cylinder, loft, rotate, solid_of_revolution, translate

# Fuselage length and radius, wing span, root and tip chord, sweep and dihedral (degrees),
# wing position (leading edge of the root, as a fraction of the length from the nose), wing
# height (in fuselage radii), thickness/chord, tailplane span, fin height, nose length
# (fraction of the length).
AIRCRAFT = {
    "airliner": dict(length=38.0, radius=2.0, span=35.0, root=7.0, tip=1.8, sweep=27.0, dihedral=5.0, wing_x=0.38,
                     wing_y=-0.55, thickness=0.13, tail_span=12.0, fin=7.0, nose=0.10),
    "business_jet": dict(length=20.0, radius=1.1, span=19.0, root=3.6, tip=1.3, sweep=25.0, dihedral=3.0, wing_x=0.42,
                         wing_y=-0.6, thickness=0.13, tail_span=7.0, fin=3.6, nose=0.14),
    "fighter": dict(length=16.0, radius=0.9, span=10.0, root=8.0, tip=0.8, sweep=50.0, dihedral=-2.0, wing_x=0.42,
                    wing_y=0.0, thickness=0.06, tail_span=0.0, fin=3.2, nose=0.28),
    "propeller": dict(length=8.0, radius=0.65, span=11.0, root=1.6, tip=1.1, sweep=0.0, dihedral=2.0, wing_x=0.25,
                      wing_y=0.8, thickness=0.15, tail_span=3.4, fin=1.5, nose=0.08),
    "glider": dict(length=7.5, radius=0.45, span=16.0, root=1.0, tip=0.4, sweep=1.0, dihedral=3.0, wing_x=0.3,
                   wing_y=0.35, thickness=0.15, tail_span=2.8, fin=1.3, nose=0.16),
}
T_TAIL = ("business_jet", "glider")
STATIONS = np.array([0.0, 0.04, 0.12, 0.25, 0.45, 0.65, 0.85, 1.0])  # chord fractions of an airfoil outline


def airfoil(lead: float, chord: float, thickness: float, y: float) -> np.ndarray:
    """A convex symmetric airfoil (14, 2) in the x-y plane: leading edge at x = lead, trailing behind it."""
    f = STATIONS
    half = 5 * (0.2969 * np.sqrt(f) - 0.126 * f - 0.3516 * f**2 + 0.2843 * f**3 - 0.1015 * f**4)
    half = np.maximum(half / half.max(), 0.15) * thickness / 2  # (8,) a blunt trailing edge
    x = lead - f * chord
    upper = np.column_stack([x, y + half])[::-1]  # trailing edge to leading edge
    lower = np.column_stack([x, y - half])[1:-1]  # back to the trailing edge
    return np.vstack([upper, lower])


def wing(p: dict, lead: float, y: float, span: float, root: float, tip: float, thickness: float,
         paint: tuple) -> Part:
    """A tapered, swept wing with dihedral across the span (z), through both tips."""
    half = span / 2
    tip_lead = lead - half * np.tan(np.radians(p["sweep"])) - (root - tip) / 4
    tip_y = y + half * np.tan(np.radians(p["dihedral"]))
    tip_profile = airfoil(tip_lead, tip, max(thickness * tip / root, 0.6 * thickness), tip_y)
    return loft([tip_profile, airfoil(lead, root, thickness, y), tip_profile], [-half, 0.0, half], "z", paint)


def fin(lead: float, y0: float, height: float, root: float, thickness: float, paint: tuple) -> Part:
    """A swept vertical fin standing on y0, its root leading edge at x = lead."""
    profile = airfoil(lead, root, thickness, 0.0)[:, ::-1]  # (z, x): the plane across y
    top = airfoil(lead - 0.8 * root, 0.55 * root, 0.7 * thickness, 0.0)[:, ::-1]
    return loft([profile, top], [y0, y0 + height], "y", paint)


def fuselage(p: dict, paint: tuple) -> Part:
    """A round body: a nose cone, a straight barrel and an upswept tail cone."""
    length, radius = p["length"], p["radius"]
    x_nose = length / 2
    x_tail = -length / 2
    nose = p["nose"] * length
    stations = [(x_tail, 0.3, 0.55), (x_tail + 0.12 * length, 0.75, 0.25), (x_tail + 0.3 * length, 1.0, 0.0),
                (x_nose - nose, 1.0, 0.0), (x_nose - 0.45 * nose, 0.8, -0.08), (x_nose - 0.12 * nose, 0.4, -0.15),
                (x_nose, 0.08, -0.2)]
    rings = [circle(lift * radius, 0.0, scale * radius, 24) for _, scale, lift in stations]  # (y, z) across x
    return loft(rings, [x for x, _, _ in stations], "x", paint)


def engines(p: dict, kind: str, size: float, wing_lead: float, wing_y: float, metal: tuple) -> list[Part]:
    """Nacelles on pylons: under the wings (airliner) or on the rear fuselage (business jet)."""
    radius = thick(0.06 * p["span"] / 2, size) if kind == "airliner" else 0.55 * p["radius"]
    length = 4.5 * radius
    parts = []
    for side in (-1, 1):
        if kind == "airliner":
            z = side * 0.33 * p["span"] / 2
            x = wing_lead - abs(z) * np.tan(np.radians(p["sweep"])) + 0.4 * length
            y = wing_y + abs(z) * np.tan(np.radians(p["dihedral"])) - 1.6 * radius
            anchor = (x - 0.5 * length, y + 1.4 * radius, z)
        else:
            z = side * (p["radius"] + 1.3 * radius)
            x, y = -0.22 * p["length"], 0.35 * p["radius"]
            anchor = (x - 0.5 * length, y, side * 0.5 * p["radius"])
        parts.append(solid_of_revolution("x", (0.0, y, z), [0.85 * radius, radius, radius, 0.9 * radius],
                                         [x - length, x - 0.8 * length, x - 0.1 * length, x], metal))
        pylon = thick(0.25 * radius, size)
        parts.append(bar((x - 0.5 * length, y, z), anchor, (0.6 * length / 2, pylon / 2), metal,
                         side=(1.0, 0.0, 0.0)))
    return parts


def propeller(p: dict, size: float, metal: tuple, rng: np.random.Generator) -> list[Part]:
    """A spinner on the nose and two or three blades at a random angle."""
    x = p["length"] / 2
    lift = -0.2 * p["radius"]
    spinner = solid_of_revolution("x", (0.0, lift, 0.0), [0.35 * p["radius"], 0.25 * p["radius"], 0.05 * p["radius"]],
                                  [x - 0.1, x + 0.2, x + 0.45], metal)
    blades = 2 + int(rng.integers(2))
    start = rng.uniform(0, 360)
    reach, blade = 1.5 * p["radius"], thick(0.12, size)
    parts = [spinner]
    for k in range(blades):
        angle = np.radians(start + 360 * k / blades)
        tip = (x + 0.1, lift + reach * np.cos(angle), reach * np.sin(angle))
        parts.append(bar((x + 0.1, lift, 0.0), tip, (blade / 2, blade / 2), metal, taper=0.6,
                         side=(1.0, 0.0, 0.0)))
    return parts


def landing_gear(p: dict, size: float, metal: tuple) -> list[Part]:
    """Fixed gear: two main struts with wheels under the wing and a nose wheel."""
    wheel = 0.5 * p["radius"]
    floor = -p["radius"] - 1.4 * wheel
    strut = thick(0.08, size)
    x_main = p["length"] / 2 - p["wing_x"] * p["length"] - 0.5 * p["root"]
    parts = []
    for x, z in ((x_main, -1.3 * p["radius"]), (x_main, 1.3 * p["radius"]), (0.4 * p["length"], 0.0)):
        hub = (x, floor + wheel, z)
        parts.append(bar((x, -0.3 * p["radius"], 0.4 * z), hub, (strut / 2, strut / 2), metal))
        parts.append(cylinder("z", hub, wheel, z - thick(0.15, size) / 2, z + thick(0.15, size) / 2, metal))
    return parts


def canopy(p: dict, x: float, size: float, glass: tuple) -> Part:
    """A cockpit canopy: a stretched dome on the top of the fuselage, its front at x."""
    r = max(p["radius"], thick(0.0, size))
    length = 3.0 * r if p["radius"] < 1.0 else 1.5 * r
    return solid_of_revolution("x", (0.0, 0.75 * p["radius"], 0.0), [0.2 * r, 0.5 * r, 0.55 * r, 0.35 * r, 0.1 * r],
                               [x - length, x - 0.75 * length, x - 0.45 * length, x - 0.15 * length, x], glass)


def aircraft_object(rng: np.random.Generator) -> tuple[str, list[Part]]:
    """An archetype name and the parts of one aircraft."""
    kind, p = draw(rng, AIRCRAFT)
    body, accent, metal = color(rng, 0.55, 0.98), color(rng), color(rng, 0.2, 0.6)
    size = max(p["length"], p["span"])
    lead = p["length"] / 2 - p["wing_x"] * p["length"]
    wing_y = p["wing_y"] * p["radius"]
    thickness = thick(p["thickness"] * p["root"], size)
    parts = [fuselage(p, body), wing(p, lead, wing_y, p["span"], p["root"], p["tip"], thickness, body)]
    tail = -p["length"] / 2 + 0.02 * p["length"]
    fin_root = 0.55 * p["fin"] + 0.1 * p["length"] if kind != "fighter" else 0.3 * p["length"]
    fin_base = 0.3 * p["radius"]
    fin_thick = thick(0.1 * fin_root, size)
    if kind == "fighter" and rng.random() < 0.5:
        for side in (-1, 1):
            one = fin(tail + fin_root, fin_base, p["fin"], fin_root, fin_thick, accent)
            canted = rotate(one, "x", side * 18.0, (0.0, fin_base, 0.0))
            parts.append(translate(canted, (0.0, 0.0, side * 0.6 * p["radius"])))
    else:
        parts.append(fin(tail + fin_root, fin_base, p["fin"], fin_root, fin_thick, accent))
    if p["tail_span"] > 0:
        tail_root = 0.3 * p["tail_span"]
        on_top = kind in T_TAIL
        x = tail + fin_root - (0.8 * fin_root if on_top else 0.05 * fin_root)
        y = fin_base + 0.95 * p["fin"] if on_top else 0.2 * p["radius"]
        parts.append(wing(p, x, y, p["tail_span"], tail_root, 0.55 * tail_root, thick(0.12 * tail_root, size), accent))
    if kind in ("airliner", "business_jet"):
        parts += engines(p, kind, size, lead, wing_y, metal)
    if kind == "propeller":
        parts += propeller(p, size, metal, rng) + landing_gear(p, size, metal)
    if kind in ("fighter", "glider", "propeller"):
        parts.append(canopy(p, p["length"] / 2 - 0.6 * p["nose"] * p["length"], size, (0.15, 0.18, 0.22)))
    return kind, parts
