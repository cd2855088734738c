// What private mode keeps, in this browser only (localStorage): the topics the reader follows
// and the stories they opened (id, title, when). Nothing here is ever sent anywhere (the
// optional daily report, ldp.js, sends one randomized vector, never this).
//
// `owner` says who turned it on: "visitor" (no account) or "account" (a signed-in reader at
// "On this device only"). An account's copy is deleted when that account leaves the level; a
// visitor's copy is left alone while someone is signed in, and used again when signed out.

const KEY = "newsite:private-mode";
const VERSION = 1;
// As many reads as the server would leave out of a reader's feed (RECOMMENDER_EXCLUDED_READS).
export const READS_KEPT = 1000;

export function load() {
  let raw;
  try {
    raw = window.localStorage.getItem(KEY);
  } catch {
    return null; // storage refused (a private window with storage off): private mode is off
  }
  if (!raw) return null;
  try {
    const state = JSON.parse(raw);
    if (state && state.version === VERSION && Array.isArray(state.topics) && Array.isArray(state.reads)) {
      return state;
    }
  } catch {
    // A damaged copy is worth nothing: treated as off, and replaced when turned on again.
  }
  return null;
}

export function save(state) {
  window.localStorage.setItem(KEY, JSON.stringify(state));
  return state;
}

export function wipe() {
  try {
    window.localStorage.removeItem(KEY);
  } catch {
    // nothing kept, nothing to delete
  }
}

/** Private mode on, for `owner`: what this browser kept stays (now that owner's). */
export function turnOn(owner) {
  const state = load() || { version: VERSION, since: new Date().toISOString(), topics: [], reads: [] };
  state.owner = owner;
  return save(state);
}

export function setTopics(state, topicIds) {
  state.topics = [...new Set(topicIds.map(Number))];
  return save(state);
}

export function recordRead(state, { id, title }, at) {
  state.reads = [{ id, title, at }, ...state.reads.filter((read) => read.id !== id)].slice(0, READS_KEPT);
  return save(state);
}

export function deleteRead(state, id) {
  state.reads = state.reads.filter((read) => read.id !== id);
  return save(state);
}

export function deleteReads(state) {
  state.reads = [];
  return save(state);
}

/** Everything kept, as the reader downloads it. */
export function exported(state) {
  return JSON.stringify(
    {
      what: "Private mode: what this browser kept (never sent to the site)",
      exported_at: new Date().toISOString(),
      on_since: state.since,
      topics_followed: state.topics,
      reads: state.reads.map((read) => ({
        article_id: read.id,
        title: read.title,
        read_at: new Date(read.at * 1000).toISOString(),
      })),
      // The optional daily report (ldp.js): whether it is on, and the day last drawn and sent.
      daily_report: {
        on: Boolean(state.reports && state.reports.on),
        drawn_day: state.reports?.drawnDay || null,
        sent_day: state.reports?.sentDay || null,
      },
    },
    null,
    2,
  );
}
