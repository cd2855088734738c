// What private mode's two opt-in releases share (ldp.js, the daily report; federated.js, the
// daily update): at most one drawn a day and kept in the browser's storage until its random
// time, then sent once, without cookie, referrer or identifier.

import * as storage from "./storage.js";

export function dayBefore(day) {
  const date = new Date(`${day}T12:00:00Z`);
  date.setUTCDate(date.getUTCDate() - 1);
  return date.toISOString().slice(0, 10);
}

/**
 * `settings` is the release's part of the browser's state (`state`): the one waiting to be
 * sent (`pending`, with its `day` and `sendAt`) and the day one was last drawn (`drawnDay`).
 * Drops a waiting one older than yesterday, draws today's with `draw()` (null: nothing to
 * release today) unless one was drawn today, and has `send(state, pending)` called at the
 * waiting one's time.
 */
export function drawOnceAndSchedule(state, settings, today, draw, send) {
  // The server takes a release of today or yesterday only; an older one is dropped unsent.
  if (settings.pending && ![today, dayBefore(today)].includes(settings.pending.day)) {
    settings.pending = null;
    storage.save(state);
  }
  if (!settings.pending && settings.drawnDay !== today) {
    const drawn = draw();
    if (drawn === null) return;
    settings.pending = drawn;
    // Drawn once a day: drawing again would be a second, independent release of the same day.
    settings.drawnDay = today;
    storage.save(state);
  }
  const pending = settings.pending;
  if (pending) setTimeout(() => send(state, pending), Math.max(0, pending.sendAt - Date.now()));
}

/** A POST that carries nothing of who sends it; a failed send is lost, never sent twice. */
export function postWithoutIdentity(url, body) {
  fetch(url, {
    method: "POST",
    credentials: "omit",
    cache: "no-store",
    referrerPolicy: "no-referrer",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  }).catch(() => {});
}
