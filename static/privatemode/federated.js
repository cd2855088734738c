// Private mode's federated update of the blend weights, off unless the reader turns it on
// (/private/). At most once a day, from the stories this browser opened among the bundle's
// candidates: the gradient of a pairwise ranking loss (each read against the stories it was
// chosen over, scored by the site's own scoring in ranking.js) with respect to the weights
// the bundle names, its L2 norm clipped to the bundle's clip, then Gaussian noise of the
// bundle's sigma added here with the browser's cryptographic randomness. The update is drawn
// once and sent once, at a random time, without cookie, account, identifier or referrer.
// recommendations/federated.py is the Python reference; privacy/federated.py the server's side.

import { drawOnceAndSchedule, postWithoutIdentity } from "./daily.js";
import { readerFor, score } from "./ranking.js";
import * as storage from "./storage.js";

// Weights that keep the parts apart: with content 0 the topic part is the topic membership
// alone; with content 1 the rest of it and the history part are content's.
const WITHOUT_CONTENT = { topic: 1, content: 0, popularity: 1, freshness: 1, pick: 1 };
const WITH_CONTENT = { ...WITHOUT_CONTENT, content: 1 };
// The least noise any setting the site allows gives (epsilon 4, delta 0.001), per unit of
// clip: a bundle asking for less is not followed, whatever epsilon it states.
const MIN_SIGMA_PER_CLIP = 1.8;

/** Per candidate row, the score's derivative along each named weight (rows of numbers). */
export function features(b, reader, now, names) {
  const plain = score({ ...b, weights: WITHOUT_CONTENT }, reader, now);
  const content = score({ ...b, weights: WITH_CONTENT }, reader, now);
  const part = {
    topic: (row) => plain.topic[row] + plain.related[row],
    content: (row) => (content.topic[row] + content.related[row] - (plain.topic[row] + plain.related[row]))
      + content.history[row],
    popularity: (row) => plain.popularity[row],
    freshness: (row) => plain.freshness[row],
  };
  for (const name of names) {
    if (!part[name]) throw new Error(`No gradient is known for the weight ${name}.`);
  }
  return Array.from({ length: b.count }, (_, row) => names.map((name) => part[name](row)));
}

/** One read's pairwise logistic loss gradient at weights `w`, averaged over `others`. */
function readGradient(rows, read, others, w) {
  const total = new Array(w.length).fill(0);
  if (!others.length) return total;
  for (const other of others) {
    const difference = rows[read].map((value, k) => value - rows[other][k]);
    const margin = difference.reduce((sum, value, k) => sum + value * w[k], 0);
    const pull = 0.5 * (1 - Math.tanh(margin / 2));
    difference.forEach((value, k) => {
      total[k] -= pull * value;
    });
  }
  return total.map((value) => value / others.length);
}

/**
 * The unclipped, noiseless update: the mean over this browser's newest reads among the
 * candidates (at most `maxReads`) of each read's gradient against the stories published by
 * then that it never opened, each read scored with the reads before it. `mine` as rankFeed
 * takes it. Null when no read is among the candidates.
 */
export function gradient(b, mine, { names, maxReads }) {
  const w = names.map((name) => b.weights[name]);
  const opened = new Set(mine.reads.map((read) => read.id));
  const positions = [];
  mine.reads.forEach((read, position) => {
    if (b.rowOfId.has(read.id) && positions.length < maxReads) positions.push(position);
  });
  if (!positions.length) return null;
  const total = new Array(names.length).fill(0);
  for (const position of positions) {
    const read = mine.reads[position];
    const reader = readerFor(b, { topics: mine.topics, reads: mine.reads.slice(position + 1) });
    const rows = features(b, reader, read.at, names);
    const others = [];
    for (let row = 0; row < b.count; row++) {
      if (b.published[row] <= read.at && !opened.has(b.ids[row])) others.push(row);
    }
    readGradient(rows, b.rowOfId.get(read.id), others, w).forEach((value, k) => {
      total[k] += value / positions.length;
    });
  }
  return total;
}

/** The update scaled down to an L2 norm of at most `bound`. */
export function clip(update, bound) {
  const norm = Math.hypot(...update);
  return norm > bound ? update.map((value) => value * (bound / norm)) : update;
}

/** A uniform number in (0, 1] with 53 random bits from crypto.getRandomValues. */
function uniform() {
  const words = new Uint32Array(2);
  crypto.getRandomValues(words);
  return ((words[0] >>> 5) * 67108864 + (words[1] >>> 6) + 1) / 9007199254740992;
}

/** `count` independent standard normal draws (Box-Muller). */
export function normals(count, draw = uniform) {
  const values = [];
  while (values.length < count) {
    const radius = Math.sqrt(-2 * Math.log(draw()));
    const angle = 2 * Math.PI * draw();
    values.push(radius * Math.cos(angle), radius * Math.sin(angle));
  }
  return values.slice(0, count);
}

/** The update as sent: clipped, then noised with standard deviation `sigma` per number. */
export function noised(update, { clip: bound, sigma }, draw = uniform) {
  const noise = normals(update.length, draw);
  return clip(update, bound).map((value, k) => value + sigma * noise[k]);
}

export function setOn(state, on) {
  // Turned off, an update drawn but not sent yet is dropped with the rest.
  const { drawnDay } = state.federated || {};
  state.federated = on ? { ...(state.federated || {}), on: true } : { on: false, drawnDay };
  return storage.save(state);
}

export function isOn(state) {
  return Boolean(state && state.federated && state.federated.on);
}

/** The reader's topics as the front page ranks with them (page.js): by name, full weight. */
function followed(state, b) {
  const name = (id) => b.topicNames.get(id) || "";
  return state.topics
    .filter((id) => b.topicNames.has(id))
    .sort((x, y) => (name(x) < name(y) ? -1 : name(x) > name(y) ? 1 : 0))
    .map((id) => [id, 1.0]);
}

/**
 * Draw today's update if there is none yet and a read is among the candidates, and send the
 * one waiting at its time. `bundle` is the bundle's JSON as served, `b` the same decoded.
 */
export function run(state, bundle, b) {
  if (!isOn(state) || !bundle.federated) return;
  const offer = bundle.federated;
  if (!(offer.clip > 0 && offer.sigma >= MIN_SIGMA_PER_CLIP * offer.clip)) return;
  const today = bundle.day;
  drawOnceAndSchedule(state, state.federated, today, () => {
    const mine = { topics: followed(state, b), reads: state.reads.map((read) => ({ id: read.id, at: read.at })) };
    const update = gradient(b, mine, { names: offer.weights, maxReads: offer.max_reads });
    if (update === null) return null; // no read among the candidates: nothing to learn from
    const delay = uniform() * (offer.max_delay_seconds || 0) * 1000;
    return { day: today, url: offer.url, update: noised(update, offer), sendAt: Date.now() + delay };
  }, send);
}

function send(state, pending) {
  // Another tab of this browser may have sent it meanwhile: the stored copy decides.
  const kept = storage.load();
  if (!isOn(kept) || !kept.federated.pending || kept.federated.pending.sendAt !== pending.sendAt) return;
  kept.federated.pending = null;
  storage.save(kept);
  state.federated = kept.federated;
  // Forgotten before it is sent: a failed send is lost rather than sent twice.
  postWithoutIdentity(pending.url, { day: pending.day, update: pending.update });
}
