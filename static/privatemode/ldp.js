// Private mode's daily local DP report, off unless the reader turns it on (/private/). At most
// once a day, one story read that day among the bundle's candidates is encoded by optimized
// unary encoding (one bit per candidate: the read's bit kept with probability 1/2, every other
// bit set with probability 1 / (e^epsilon + 1), epsilon from the bundle, at most 1), here, with
// the browser's cryptographic randomness; the report is drawn once and sent once, at a random
// time, without cookie, account, identifier or referrer. The server only adds it to totals
// (privacy/ldp.py has the matching estimator).

import { drawOnceAndSchedule, postWithoutIdentity } from "./daily.js";
import * as storage from "./storage.js";

export function probabilities(epsilon) {
  return { p: 0.5, q: 1 / (Math.exp(epsilon) + 1) };
}

/** Uniform numbers in [0, 1) from crypto.getRandomValues, drawn a block at a time. */
export function secureRandom() {
  const block = new Uint32Array(1024);
  let next = block.length;
  return () => {
    if (next === block.length) {
      crypto.getRandomValues(block);
      next = 0;
    }
    return block[next++] / 4294967296;
  };
}

/** The randomized report of position `index` among `size`, as bits (0/1). */
export function encode(index, size, epsilon, random = secureRandom()) {
  const { p, q } = probabilities(epsilon);
  const bits = new Uint8Array(size);
  for (let position = 0; position < size; position += 1) {
    bits[position] = random() < (position === index ? p : q) ? 1 : 0;
  }
  return bits;
}

/** Bits as sent: bit i is bit (i % 8) of byte i >> 3, least significant first; base64. */
export function pack(bits) {
  const bytes = new Uint8Array((bits.length + 7) >> 3);
  bits.forEach((bit, position) => {
    if (bit) bytes[position >> 3] |= 1 << (position & 7);
  });
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

/** The calendar day of an instant (epoch seconds) in the site's time zone, as YYYY-MM-DD. */
function dayOf(epochSeconds, timeZone) {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" })
    .format(new Date(epochSeconds * 1000));
}

export function setOn(state, on) {
  // Turned off, a report drawn but not sent yet is dropped with the rest.
  const { sentDay, drawnDay } = state.reports || {};
  state.reports = on ? { ...(state.reports || {}), on: true } : { on: false, sentDay, drawnDay };
  return storage.save(state);
}

export function isOn(state) {
  return Boolean(state && state.reports && state.reports.on);
}

/**
 * Draw today's report if there is none yet and a read of today is among the candidates, and
 * send the one waiting at its time. `bundle` is the bundle's JSON as served.
 */
export function run(state, bundle, random = secureRandom()) {
  if (!isOn(state) || !bundle.local_reports) return;
  const offer = bundle.local_reports;
  // Never more than the promised epsilon, whatever a bundle says.
  if (!(offer.epsilon > 0 && offer.epsilon <= 1)) return;
  const today = bundle.day;
  drawOnceAndSchedule(state, state.reports, today, () => {
    const field = Object.fromEntries(bundle.article_fields.map((name, index) => [name, index]));
    const position = new Map(bundle.articles.map((row, index) => [row[field.id], index]));
    const todays = state.reads.filter((read) => position.has(read.id) && dayOf(read.at, bundle.time_zone) === today);
    if (!todays.length) return null; // nothing read today among the candidates: nothing to report
    const read = todays[Math.floor(random() * todays.length)];
    const bits = encode(position.get(read.id), bundle.articles.length, offer.epsilon, random);
    const delay = random() * (offer.max_delay_seconds || 0) * 1000;
    return { day: today, version: offer.version, url: offer.url, bits: pack(bits), sendAt: Date.now() + delay };
  }, send);
}

function send(state, pending) {
  // Another tab of this browser may have sent it meanwhile: the stored copy decides.
  const kept = storage.load();
  if (!isOn(kept) || !kept.reports.pending || kept.reports.pending.version !== pending.version) return;
  kept.reports.pending = null;
  kept.reports.sentDay = pending.day;
  storage.save(kept);
  state.reports = kept.reports;
  // Forgotten before it is sent: a failed send is lost rather than sent twice.
  postWithoutIdentity(pending.url, { bundle_version: pending.version, day: pending.day, bits: pending.bits });
}
