"""The episodes of ward life, one room through the night: going to bed, turning over and sitting
on the bed edge, toilet visits, falls and things that look like falls, resident calls, wanderers
leaving their room, coughs and calling out, staff rounds and staff who come when paged, and a
camera that something covers.

Each episode is a method of ``RoomNight`` that starts at a time, emits the events of the room's
sensors, records the episode with the incidents the reference policy must page for it, and
returns when it is over. Every episode starts and ends with the resident in bed and leaves no
incident open; times are kept well clear of the policy's boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulators.ward.model import OBSTRUCTED_AFTER, STAFF_RECENT, Expected
from simulators.ward.room import RoomLog


@dataclass(slots=True)
class Scheduled:
    """A room-level happening at a fixed time: a staff round, an obstructed camera."""

    at: float
    what: str


class RoomNight(RoomLog):
    """Lives through one room's night, episode after episode."""

    # the night ------------------------------------------------------------------------------

    def live(self, scheduled: list[Scheduled]) -> None:
        # episodes of the night start once the resident is in bed and the night has begun
        self.begin()
        t = max(self.going_to_bed(), self.night_start)
        rates = self.rates
        hours = (self.night_end - self.night_start) / 3600
        per_night: dict[str, float] = {
            "turning": rates.turning,
            "edge_sitting": rates.edge_sitting,
            "toilet": rates.toilet,
            "fall": rates.fall,
            "call": rates.call,
        }
        if "optical" in self.kinds and not self.radar:
            # look-alikes of a fall that fool a camera; a radar measures height, not looks
            per_night["blanket"] = rates.blanket
            per_night["kneeling"] = rates.kneeling
        if self.profile.wanders:
            per_night["wander"] = rates.wander
        if "acoustic" in self.kinds:
            per_night["cough"] = rates.cough
            per_night["calling_out"] = rates.calling_out
            per_night["murmur"] = rates.murmur
        names = list(per_night)
        weights = [per_night[name] for name in names]
        rate = sum(weights) / (hours * 3600)  # episodes per second
        last_start = self.night_end - 30 * 60  # nothing new in the last half hour
        queue = sorted(scheduled, key=lambda s: s.at)
        while True:
            # nothing new happens while staff still count as present in the room
            at = max(t + self.rng.expovariate(rate), self.staff_clear + 5)
            if queue and queue[0].at <= at:
                item = queue.pop(0)
                self.begin()
                t = self.scheduled(item.what, max(item.at, t)) + self.u(5, 60)
                continue
            if at >= last_start:
                break
            what = self.rng.choices(names, weights)[0]
            self.begin()
            t = getattr(self, what)(at) + self.u(20, 120)
        for item in queue:
            if max(item.at, t) < self.end - 300:
                self.begin()
                t = self.scheduled(item.what, max(item.at, t)) + self.u(5, 60)
        self.token = 0

    def scheduled(self, what: str, t: float) -> float:
        if what == "round":
            return self.round_visit(t)
        if what == "obstructed":
            return self.obstructed(t)
        raise ValueError(what)

    # the evening ------------------------------------------------------------------------------

    def going_to_bed(self) -> float:
        """The resident is up at the start of the recording and in bed by some time after it."""
        up_at = self.start + self.u(0, 300)
        seen = self.rng.choice(("out_of_bed", "sitting_on_edge", "in_bathroom"))
        self.see(up_at, seen)
        if seen == "sitting_on_edge":
            # and stands up: sitting on the edge counts as in bed, and a resident the camera
            # last saw in bed who shows up in the bathroom after 22:00 has left the bed at night
            self.see(up_at + self.u(10, 120), "out_of_bed")
        self.mat(up_at + self.u(0, 5), occupied=False)
        self.movement(up_at, up_at + 60)
        if self.high or self.profile.wanders:
            # staff help residents at risk to bed before the night starts
            arrive = self.start + self.u(300, 1200)
            leave = arrive + self.u(300, 600)
            self.staff_visit(arrive, leave, button=True, help_to_bed=True)
            self.episode("helped to bed", up_at, leave)
            return leave
        if self.chance(0.4):
            in_bed = self.start + self.u(600, 1500)  # before the night starts
        else:
            in_bed = self.night_start + self.u(60, 3000)  # on their own, after 22:00
            if self.chance(0.3):
                self.see(in_bed - self.u(400, 700), "in_bathroom")
                self.see(in_bed - self.u(60, 300), "out_of_bed")
        self.see(in_bed - self.u(5, 30), "sitting_on_edge")
        self.see(in_bed, "in_bed")
        self.mat(in_bed + self.u(0.5, 3), occupied=True)
        self.movement(in_bed - 60, in_bed)
        self.episode("went to bed", up_at, in_bed)
        return in_bed

    # staff ------------------------------------------------------------------------------------

    def staff_visit(
        self,
        arrive: float,
        leave: float,
        *,
        button: bool,
        help_to_bed: bool = False,
        out_of_bed: bool = False,
    ) -> None:
        """Staff come in at ``arrive`` and leave at ``leave``; optionally the resident gets out
        of bed with them (care) or is helped (back) to bed at the end."""
        self.emit(arrive - self.u(1, 3), "door", "open")
        if button:
            self.emit(arrive, "presence", "staff_in")
        self.movement(arrive, leave)
        self.emit(arrive + self.u(4, 8), "door", "closed")
        # the camera sees more than one person while staff are there
        clear = leave
        t = arrive + self.u(1, 4)
        while t < leave - 5:
            self.see(t, self.rng.choice(("multiple_persons", "staff_present")))
            if self.camera and not self.radar:
                clear = max(clear, t + STAFF_RECENT)
            t += self.u(25, 45)
        if out_of_bed:
            up = arrive + self.u(20, 40)
            self.mat(up, occupied=False)
            self.see(up + self.u(0.5, 2), "out_of_bed")
            back = min(up + self.u(60, 240), leave - 20)
            self.see(back, "in_bed")
            self.mat(back + self.u(0.5, 2), occupied=True)
        if help_to_bed:
            in_bed = leave - self.u(30, 90)
            self.see(in_bed, "in_bed")
            self.mat(in_bed + self.u(0.5, 2), occupied=True)
        self.emit(leave, "door", "open")
        if button:
            out = leave + self.u(0.5, 2)
            self.emit(out, "presence", "staff_out")
            clear = max(clear, out)
        self.emit(leave + self.u(4, 8), "door", "closed")
        self.staff_clear = max(self.staff_clear, clear)

    def round_visit(self, t: float) -> float:
        """A staff round: a quick look, or care with the presence button."""
        if self.chance(self.rates.care_visit):
            if self.chance(self.rates.second_hands):
                return self.second_hands(t)
            leave = t + self.u(120, 480)
            self.staff_visit(
                t, leave, button=True, out_of_bed=self.chance(self.rates.care_out_of_bed)
            )
            self.episode("round: care (presence button)", t, leave)
        else:
            leave = t + self.u(15, 50)
            self.staff_visit(t, leave, button=False)
            self.episode("round: a look (no presence button)", t, leave)
        return leave + 10

    def second_hands(self, t: float) -> float:
        """During care, the carer presses the call button for a colleague: a call while staff
        are present is paged all the same. The colleague comes and the call is reset."""
        leave = t + self.u(360, 720)
        self.staff_visit(t, leave, button=True)
        pressed = t + self.u(30, 120)
        self.emit(pressed, "call", "pressed")
        colleague = pressed + self.u(60, 180)
        self.emit(colleague, "presence", "staff_in")
        self.emit(colleague + self.u(3, 10), "call", "cancelled")
        self.episode(
            "round: care, call for a second pair of hands",
            t,
            leave,
            self.expected("call", pressed),
        )
        return leave + 10

    def staff_come(self, t: float, *, help_to_bed: bool = False) -> float:
        """Staff respond: in at ``t``, with the presence button. Returns when they leave."""
        leave = t + self.u(120, 420)
        self.staff_visit(t, leave, button=True, help_to_bed=help_to_bed)
        return leave

    # in bed -----------------------------------------------------------------------------------

    def turning(self, t: float) -> float:
        """Turning over lifts the bed mat for a moment; the camera keeps seeing them in bed."""
        self.mat(t, occupied=False)
        back = t + self.u(0.8, 3.5)
        self.mat(back, occupied=True)
        if self.chance(0.5):
            self.see(t + self.u(0.2, 2), "in_bed")
        if self.chance(0.3):
            self.movement(t, back)
        self.episode("turning over", t, back)
        return back

    def edge_sitting(self, t: float) -> float:
        """Sits on the bed edge for a while and lies back."""
        self.see(t, "sitting_on_edge")
        lifted = self.chance(0.3)
        vacated = t + self.u(0, 2)
        if lifted:
            self.mat(vacated, occupied=False)
        back = t + self.u(15, 150)
        self.see(back, "in_bed")
        if lifted:
            self.mat(back + self.u(0.3, 2), occupied=True)
        self.movement(t, back)
        # where only the mat sees the bed, a long enough lift is a bed exit for the policy
        incidents = []
        if lifted and self.high and not self.camera:
            incidents.append(self.expected("bed_exit", vacated))
        self.episode("sitting on the bed edge", t, back, *incidents)
        return back

    def get_up(self, t: float) -> tuple[float, float]:
        """Sits up and gets out of bed. Returns when they stand, and when the policy sees them
        leave the bed (the camera's ``out_of_bed``; without a camera the mat's ``vacated``)."""
        if self.chance(0.6):
            self.see(t, "sitting_on_edge")
            t += self.u(5, 40)
        self.mat(t, occupied=False)
        out = t + self.u(0.5, 2)
        self.see(out, "out_of_bed")
        return t, round(out if self.camera else t, 3)

    def back_to_bed(self, t: float) -> float:
        self.see(t, "out_of_bed")
        in_bed = t + self.u(10, 40)
        self.see(in_bed, "in_bed")
        self.mat(in_bed + self.u(0.5, 2), occupied=True)
        return in_bed

    def exit_incidents(self, left: float, resolved: float) -> list[Expected]:
        """What the policy pages for a bed exit at ``left`` that ends (back in bed, or staff
        arrive) at ``resolved``, with nothing more severe open."""
        if self.high:
            return [self.expected("bed_exit", left)]
        if resolved > left + self.grace:
            return [self.expected("absent_too_long", left)]
        return []

    def clear_of(self, t: float, boundary: float, margin: float = 30.0) -> float:
        """``t`` moved at least ``margin`` seconds away from ``boundary``, on its side of it."""
        if abs(t - boundary) >= margin:
            return t
        return boundary + margin if t >= boundary else boundary - margin

    def respond_to_exit(self, left: float, in_bed: float) -> float:
        """A high-risk resident's bed-exit page may bring someone to look; returns when the
        episode ends."""
        if not self.high or not self.chance(self.rates.staff_respond):
            return in_bed
        arrive = left + self.u(60, 240)
        if arrive >= in_bed - 30:
            return in_bed  # back in bed before anyone came
        return max(in_bed, self.staff_come(arrive))

    def back_from_exit(self, what: str, t: float, left: float, back: float) -> float:
        """The end of episode ``what`` (from ``t``) of a bed exit at ``left``: back to bed at
        ``back``, perhaps with staff looking in. Returns when the episode ends."""
        in_bed = self.back_to_bed(back)
        incidents = self.exit_incidents(left, in_bed)
        end = self.respond_to_exit(left, in_bed)
        self.episode(what, t, end, *incidents)
        return end

    def toilet(self, t: float) -> float:
        """Out of bed to the bathroom and back, usually within a few minutes."""
        up, left = self.get_up(t)
        bathroom = up + self.u(5, 25)
        self.see(bathroom, "in_bathroom")
        if self.chance(self.rates.toilet_long):
            # stays too long: the page (at once for a high fall risk, else once the grace has
            # run out) brings staff, who help the resident back to bed
            paged = left if self.high else left + self.grace
            arrive = paged + self.u(60, 300)
            self.movement(up, arrive)
            self.see(arrive + self.u(5, 25), "out_of_bed")
            leave = self.staff_come(arrive, help_to_bed=True)
            self.episode("toilet visit, too long", t, leave, *self.exit_incidents(left, arrive))
            return leave
        stay = self.u(90, max(120.0, min(420.0, self.grace - 200)))
        back = bathroom + stay
        self.movement(up, back + 40)
        return self.back_from_exit("toilet visit", t, left, back)

    def fall(self, t: float) -> float:
        """Gets up, falls and stays on the floor until staff come."""
        up, left = self.get_up(t)
        fell = up + self.u(3, 90)
        self.see(fell, "fall", confidence=self.u(0.75, 0.98))
        self.see(fell + self.u(1.5, 4), "on_floor")
        incidents: list[Expected] = []
        if self.high:
            incidents.append(self.expected("bed_exit", left))
        pressed: float | None = None
        if self.camera:
            incidents.append(self.expected("fall", fell))
            arrive = fell + self.u(120, 360)
        elif self.chance(0.5):
            # no camera: the resident reaches the pull cord
            pressed = fell + self.u(30, 240)
            arrive = pressed + self.u(90, 300)
        elif self.high:
            arrive = up + self.u(150, 420)  # the bed-exit page brought someone
        else:
            arrive = left + self.grace + self.u(120, 360)  # the absent-too-long page did
        if pressed is not None:
            self.emit(pressed, "call", "pressed")
            incidents.append(self.expected("call", pressed))
        if not self.high:
            arrive = self.clear_of(arrive, left + self.grace)
            # with a camera, the open fall incident (more severe) covers the absence
            if arrive > left + self.grace and not self.camera:
                incidents.append(self.expected("absent_too_long", left))
        if "acoustic" in self.kinds and self.chance(0.5):
            calls_out = fell + self.u(10, 30)
            self.loud(calls_out, self.u(40, 90), level=(70, 85))
            if not self.high and not self.camera:
                # nothing more severe is open: calling out is paged
                incidents.append(self.expected("acoustic", calls_out))
        on_floor_again = fell + self.u(30, 60)
        while on_floor_again < arrive:
            self.see(on_floor_again, "on_floor")
            on_floor_again += self.u(30, 60)
        self.movement(up, fell + 10)
        leave = self.staff_come(arrive, help_to_bed=True)
        if pressed is not None:
            self.emit(arrive + self.u(3, 10), "call", "cancelled")
        self.episode("fall", t, leave, *sorted(incidents, key=lambda i: i.start))
        return leave

    def blanket(self, t: float) -> float:
        """A blanket slides to the floor: the camera reports a fall, then the resident in bed."""
        self.see(t, "fall", confidence=self.u(0.55, 0.8))
        back = t + self.u(1, 5)
        self.see(back, "in_bed")
        self.episode("blanket falls (fall look-alike)", t, back)
        return back

    def kneeling(self, t: float) -> float:
        """Out of bed, kneels to pick something up (on_floor), stands again, back to bed."""
        up, left = self.get_up(t)
        kneel = up + self.u(5, 30)
        self.see(kneel, self.rng.choice(("on_floor", "fall")), confidence=self.u(0.6, 0.9))
        self.see(kneel + self.u(2, 5), "out_of_bed")
        back = kneel + self.u(20, 90)
        self.movement(up, back)
        return self.back_from_exit("kneeling (fall look-alike)", t, left, back)

    # calls --------------------------------------------------------------------------------

    def call(self, t: float) -> float:
        """Presses the call button: cancels it, or presses again until staff come."""
        self.emit(t, "call", "pressed")
        incident = self.expected("call", t)
        if self.chance(self.rates.call_cancelled):
            done = t + self.u(3, 25)
            self.emit(done, "call", "cancelled")
            self.episode("call, cancelled by the resident", t, done, incident)
            return done
        arrive = t + self.u(90, 420)
        what = "call"
        if self.chance(self.rates.call_repeated):
            again = t
            for _ in range(self.rng.randint(1, 3)):
                again += self.u(20, 120)
                if again < arrive - 5:
                    self.emit(again, "call", "pressed")
                    what = "call, pressed again"
        leave = arrive + self.u(120, 480)
        # staff reset the call at the room, then help
        self.staff_visit(
            arrive, leave, button=True, out_of_bed=self.chance(self.rates.care_out_of_bed)
        )
        self.emit(arrive + self.u(3, 10), "call", "cancelled")
        self.episode(what, t, leave, incident)
        return leave

    # wandering --------------------------------------------------------------------------------

    def wander(self, t: float) -> float:
        """Leaves the room; comes back alone, or staff, paged, find them and bring them back."""
        up, left = self.get_up(t)
        door = up + self.u(20, 120)
        self.movement(up, door - 2)
        self.emit(door, "door", "open")
        self.see(door + self.u(1, 3), "left_room")
        self.emit(door + self.u(5, 10), "door", "closed")
        # a radar cannot see the resident leave (left_room): the room found empty within
        # wandering_confirm (20 s) of the door opening is what tells the policy
        self.see(door + (self.u(8, 15) if self.radar else self.u(15, 40)), "no_person")
        incidents = [self.expected("bed_exit", left)] if self.high else []
        incidents.append(self.expected("wandering", door))
        alone = self.chance(0.35)
        back = door + (self.u(60, 400) if alone else self.u(150, 480))
        if not self.high:
            # back in bed (alone) or staff there well before the bathroom grace runs out
            back = max(door + 40, min(back, left + self.grace - (150 if alone else 40)))
        self.emit(back, "door", "open")
        self.see(back + self.u(1, 3), "entered_room")
        self.emit(back + self.u(5, 10), "door", "closed")
        if alone:
            in_bed = back + self.u(30, 120)
            self.movement(back + self.u(2, 5), in_bed)
            self.see(in_bed - self.u(5, 20), "sitting_on_edge")
            self.see(in_bed, "in_bed")
            self.mat(in_bed + self.u(0.5, 2), occupied=True)
            self.episode("wandering, came back alone", t, in_bed, *incidents)
            return in_bed
        leave = self.staff_come(back + self.u(0.5, 2), help_to_bed=True)
        self.episode("wandering, brought back", t, leave, *incidents)
        return leave

    # sound ------------------------------------------------------------------------------------

    def loud(self, t: float, duration: float, level: tuple[float, float]) -> float:
        """Sound reports every 5 s for ``duration`` seconds, then quiet."""
        end = t + duration
        while t <= end:
            self.emit(t, "acoustic", "sound", value=self.u(*level))
            t += 5.0
        self.emit(t, "acoustic", "quiet")
        return t

    def cough(self, t: float) -> float:
        self.emit(t, "acoustic", "sound", value=self.u(66, 80))
        done = t + self.u(2, 5)
        self.emit(done, "acoustic", "quiet")
        self.episode("cough", t, done)
        return done

    def murmur(self, t: float) -> float:
        done = t
        for _ in range(self.rng.randint(1, 4)):
            self.emit(done, "acoustic", "sound", value=self.u(48, 62))
            done += self.u(4, 9)
        self.emit(done, "acoustic", "quiet")
        self.episode("murmur (below the sound threshold)", t, done)
        return done

    def calling_out(self, t: float) -> float:
        """Calls out for a minute, at least 70 dB(A) every 5 s; the page brings staff."""
        done = self.loud(t, 60.0, level=(70, 82))
        leave = self.staff_come(done + self.u(30, 180))
        self.episode("calling out", t, leave, self.expected("acoustic", t))
        return leave

    # devices ----------------------------------------------------------------------------------

    def obstructed(self, t: float) -> float:
        """Something covers the camera for two minutes (the resident stays in bed)."""
        self.see(t, "obstructed")
        self.see(t + OBSTRUCTED_AFTER, "obstructed")
        done = t + 2 * OBSTRUCTED_AFTER
        self.see(done, "in_bed")
        fault = self.expected("device_fault", t + OBSTRUCTED_AFTER, self.profile.device("optical"))
        self.episode("camera obstructed", t, done, fault)
        return done
