"""How each kind of railcar looks from above, drawn part by part in metres.

Roofs are flat-shaded except tanks, whose cylinder is shaded strip by strip
from the sun direction (bright line along the top, darker sides).
"""

from __future__ import annotations

import numpy as np

from .canvas import Canvas, rect

COUPLER_RGB = (38, 36, 34)


class CarPainter:
    def __init__(self, canvas: Canvas, sun_dir, sun_elevation_deg: float):
        self.cv = canvas
        self.sun_dir = np.asarray(sun_dir, np.float64)  # horizontal unit vector towards the sun
        self.sun_elev = np.deg2rad(sun_elevation_deg)

    # local frame: u along the car, v across it
    def _frame(self, car):
        a = car.along
        b = np.array([-a[1], a[0]])
        return car.centre_m, a, b

    def _r(self, car, u0, u1, v0, v1):
        c, a, b = self._frame(car)
        return rect(c + a * (u0 + u1) / 2 + b * (v0 + v1) / 2, a, b, u1 - u0, v1 - v0)

    def _put(self, polys, rgb, tex):
        self.cv.colour(self.cv.objects, polys, _dirty(rgb, self._dirt), tex)

    def draw(self, car) -> None:
        self._dirt = car.style.get("dirt", 0.0)
        L, W = car.length_m, car.width_m
        # couplers reach into the gap so a short gap shows a dark bar, not ballast only
        ends = [self._r(car, L / 2 - 0.3, L / 2 + 0.45, -0.17, 0.17), self._r(car, -L / 2 - 0.45, -L / 2 + 0.3, -0.17, 0.17)]
        if car.style.get("coach"):
            self._coach(car, L, W)
            return
        self._put(ends, COUPLER_RGB, 5)
        getattr(self, "_" + car.kind.replace("/", "_"))(car, L, W)
        if "tarp" in car.style:
            self._tarp(car, L, W)

    def _box(self, car, L, W):
        roof = np.array(car.style["roof"])
        self._put([self._r(car, -L / 2, L / 2, -W / 2, W / 2)], roof * 0.8, 15)
        self._put([self._r(car, -L / 2 + 0.15, L / 2 - 0.15, -W / 2 + 0.12, W / 2 - 0.12)], roof, 15)
        step, k = car.style["rib_step_m"], car.style["rib_contrast"]
        ribs = [self._r(car, u - 0.06, u + 0.06, -W / 2 + 0.12, W / 2 - 0.12) for u in np.arange(-L / 2 + step, L / 2 - 0.3, step)]
        self._put(ribs, roof * (1 + k), 15)

    def _coach(self, car, L, W):
        """A passenger coach: one long rounded roof, vents along it, and
        gangways of the roof's own colour reaching into the gaps, so coupled
        coaches read as one long band with faint seams."""
        roof = np.array(car.style["roof"])
        self._put([self._r(car, -L / 2 - 0.5, L / 2 + 0.5, -1.1, 1.1)], roof * 0.62, 8)  # gangway bellows
        self._put([self._r(car, -L / 2, L / 2, -W / 2, W / 2)], roof * 0.86, 8)
        self._put([self._r(car, -L / 2 + 0.3, L / 2 - 0.3, -W / 2 + 0.35, W / 2 - 0.35)], roof, 8)
        self._put([self._r(car, -L / 2 + 0.6, L / 2 - 0.6, -0.3, 0.3)], np.clip(roof * car.style["roof_line"] + 10, 0, 250), 6)
        vents = [self._r(car, u - 0.35, u + 0.35, -0.55, 0.55) for u in np.linspace(-L / 2 + 3.0, L / 2 - 3.0, 5)]
        self._put(vents, roof * 0.75, 6)

    def _tank(self, car, L, W):
        body = np.array(car.style["body"])
        # underframe and end platforms
        self._put([self._r(car, -L / 2, L / 2, -W / 2 + 0.25, W / 2 - 0.25)], (52, 50, 48), 10)
        shell_l = L - 1.4
        c, a, b = self._frame(car)
        across_sun = float(np.dot(b, self.sun_dir)) * np.cos(self.sun_elev)
        up_sun = np.sin(self.sun_elev)
        n_strips = 11
        edges = np.linspace(-W / 2, W / 2, n_strips + 1)
        for v0, v1 in zip(edges[:-1], edges[1:]):
            vm = (v0 + v1) / 2
            phi = np.arcsin(np.clip(2 * vm / W, -0.999, 0.999))
            lambert = max(0.0, np.sin(phi) * across_sun + np.cos(phi) * up_sun)
            shade = 0.35 + 0.8 * lambert
            # rounded heads: the outer strips are shorter
            cut = 0.6 * (1 - np.cos(phi))
            self._put([self._r(car, -shell_l / 2 + cut, shell_l / 2 - cut, v0, v1)], body * shade, 8)
        # specular highlight along the top
        hl = np.clip(body * 1.15 + 45, 0, 250)
        self._put([self._r(car, -shell_l / 2 + 0.4, shell_l / 2 - 0.4, -0.12, 0.12)], hl, 5)
        # walkway along the top and the dome
        self._put([self._r(car, -shell_l / 2 + 1.0, shell_l / 2 - 1.0, 0.18, 0.45)], np.clip(body * 0.7 + 30, 0, 250), 20)
        if car.style.get("dome"):
            self.cv.circles(self.cv.objects, [c + a * 0.3], 0.55, (*_dirty(np.clip(body * 1.1 + 20, 0, 250), self._dirt), 255))

    def _hopper_gondola(self, car, L, W):
        rim = np.array(car.style["rim"])
        self._put([self._r(car, -L / 2, L / 2, -W / 2, W / 2)], rim, 15)
        load = car.style["load"]
        inner = self._r(car, -L / 2 + 0.25, L / 2 - 0.25, -W / 2 + 0.22, W / 2 - 0.22)
        if load == "empty":
            # dark interior, half in the shadow of its own side wall
            self._put([inner], rim * 0.35, 20)
            self._put([self._r(car, -L / 2 + 0.25, L / 2 - 0.25, -W / 2 + 0.22, -W / 2 + 1.0)], rim * 0.2, 10)
            bays = car.style["bays"]
            for u in np.linspace(-L / 2, L / 2, bays + 1)[1:-1]:
                self._put([self._r(car, u - 0.15, u + 0.15, -W / 2 + 0.2, W / 2 - 0.2)], rim * 0.85, 10)
        else:
            from .looks import LOADS

            rgb, tex = LOADS[load]
            self._put([inner], rgb, tex)
            # heaped load: a lighter crest along the middle
            self._put([self._r(car, -L / 2 + 0.8, L / 2 - 0.8, -0.4, 0.4)], np.array(rgb) * 1.15 + 8, tex)

    def _flat_container(self, car, L, W):
        deck = np.array(car.style["deck"])
        self._put([self._r(car, -L / 2, L / 2, -W / 2, W / 2)], deck * 0.85, 35)
        self._put([self._r(car, -L / 2 + 0.2, L / 2 - 0.2, -W / 2 + 0.15, W / 2 - 0.15)], deck, 45)
        load = car.style["load"]
        if load == "containers":
            sizes = []
            room = L - 0.6
            long_ok = not car.style["short_containers"]
            while room >= 6.2:
                if long_ok and room >= 12.3:
                    sizes.append(12.19)
                    room -= 12.5
                else:
                    sizes.append(6.06)
                    room -= 6.3
            u = -L / 2 + 0.3 + room / 2
            for i, size in enumerate(sizes):
                col = np.array(car.style["containers"][i % 4])
                poly = self._r(car, u, u + size, -1.22, 1.22)
                self._put([poly], col, 12)
                ribs = [self._r(car, x - 0.05, x + 0.05, -1.15, 1.15) for x in np.arange(u + 0.4, u + size - 0.3, 0.6)]
                self._put(ribs, col * 0.9, 12)
                u += size + 0.3
        elif load == "logs":
            self._put([self._r(car, -L / 2 + 1.0, L / 2 - 1.0, -W / 2 + 0.2, W / 2 - 0.2)], (118, 92, 66), 90)
            lines = [self._r(car, -L / 2 + 1.0, L / 2 - 1.0, v - 0.04, v + 0.04) for v in np.arange(-W / 2 + 0.4, W / 2 - 0.3, 0.35)]
            self._put(lines, (84, 64, 46), 60)
        elif load == "machinery":
            self._put([self._r(car, -L / 4, L / 4, -W / 2 + 0.3, W / 2 - 0.3)], (206, 166, 40), 15)
            self._put([self._r(car, -L / 8, L / 10, -0.6, 0.6)], (60, 60, 60), 15)

    def _covered(self, car, L, W):
        body = np.array(car.style["body"])
        self._put([self._r(car, -L / 2, L / 2, -W / 2, W / 2)], body * 0.88, 10)
        c, a, b = self._frame(car)
        tilt = float(np.dot(a, self.sun_dir))
        # sloped end sheets, one towards the sun, one away
        self._put([self._r(car, -L / 2 + 1.3, L / 2 - 1.3, -W / 2 + 0.1, W / 2 - 0.1)], body, 10)
        self._put([self._r(car, L / 2 - 1.3, L / 2 - 0.1, -W / 2 + 0.1, W / 2 - 0.1)], body * (1 + 0.12 * tilt), 10)
        self._put([self._r(car, -L / 2 + 0.1, -L / 2 + 1.3, -W / 2 + 0.1, W / 2 - 0.1)], body * (1 - 0.12 * tilt), 10)
        self._put([self._r(car, -L / 2 + 1.3, L / 2 - 1.3, -0.25, 0.25)], body * 0.8, 10)  # running board
        n = car.style["hatches"]
        us = np.linspace(-L / 2 + 2.2, L / 2 - 2.2, n)
        hatch = _dirty(body * 0.68, self._dirt)
        self.cv.circles(self.cv.objects, [c + a * u for u in us], 0.38, (*hatch, 255))

    def _tarp(self, car, L, W):
        rng = np.random.default_rng(car.style["tarp_seed"])
        e0, e1 = car.style["tarp_extent"]
        u0, u1 = -L / 2 + e0 * L, -L / 2 + e1 * L
        n = 5
        top = [(u, W / 2 * rng.uniform(0.75, 1.0)) for u in np.linspace(u0, u1, n)]
        bot = [(u, -W / 2 * rng.uniform(0.75, 1.0)) for u in np.linspace(u1, u0, n)]
        c, a, b = self._frame(car)
        poly = np.array([c + a * u + b * v for u, v in top + bot])
        self._put([poly], car.style["tarp"], 35)
        fold = [self._r(car, u - 0.05, u + 0.05, -W / 2 + 0.4, W / 2 - 0.4) for u in rng.uniform(u0, u1, 3)]
        self._put(fold, np.array(car.style["tarp"]) * 0.8, 30)


def _dirty(rgb, dirt):
    rgb = np.asarray(rgb, np.float64)
    return tuple(np.clip(rgb * (1 - dirt) + np.array([96, 84, 70]) * dirt, 0, 255))
