// The trust survey for a visitor without an account who turned private mode on: the card is in
// the page, hidden; this shows it when this browser has not answered or put it off in the last
// N days and was not told never to ask. The answer is randomized here (k-ary randomized
// response, the keep probability the page states) and only the randomized one is sent, with
// no cookie. What was asked when is kept in this browser only.

import { load as privateMode } from "../privatemode/storage.js";

const KEY = "newsite:trust-survey";
const DAY_MS = 86400000;

function remembered() {
  try {
    return JSON.parse(window.localStorage.getItem(KEY) || "{}") || {};
  } catch {
    return {};
  }
}

function remember(state) {
  try {
    window.localStorage.setItem(KEY, JSON.stringify(state));
  } catch {
    // storage refused: the card may be offered again, nothing else is kept anywhere
  }
}

function due(state, everyDays) {
  if (state.never) return false;
  if (!state.askedAt) return true;
  return Date.now() - Date.parse(state.askedAt) >= everyDays * DAY_MS;
}

// A uniform number in [0, 1) from the browser's cryptographic generator.
function uniform() {
  const word = new Uint32Array(1);
  window.crypto.getRandomValues(word);
  return word[0] / 4294967296;
}

export function randomize(answer, answers, keep) {
  if (uniform() < keep) return answer;
  const others = answers.filter((key) => key !== answer);
  return others[Math.min(Math.floor(uniform() * others.length), others.length - 1)];
}

function start() {
  const card = document.querySelector('[data-trust-survey="browser"]');
  if (!card) return;
  const everyDays = Number(card.dataset.everyDays);
  if (!privateMode() || !due(remembered(), everyDays)) return;
  const form = card.querySelector("form");
  const status = card.querySelector('[role="status"]');
  const answers = [...form.querySelectorAll('input[name="answer"]')].map((input) => input.value);
  const keep = Number(card.dataset.keepProbability);
  card.hidden = false;

  function done(message) {
    form.hidden = true;
    status.textContent = message;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const action = event.submitter ? event.submitter.value : "answer";
    if (action === "never") {
      remember({ never: true });
      done("We will not ask you this again in this browser.");
      return;
    }
    if (action === "later") {
      remember({ askedAt: new Date().toISOString() });
      done(`We will not ask again for ${everyDays} days.`);
      return;
    }
    const chosen = form.querySelector('input[name="answer"]:checked');
    if (!chosen) {
      status.textContent = "Choose an answer, “Not now” or “Don't ask me again”.";
      return;
    }
    const body = new URLSearchParams({ answer: randomize(chosen.value, answers, keep) });
    try {
      // The buttons are named "action", which hides the form's own `action` property.
      const response = await fetch(form.getAttribute("action"), { method: "POST", body, credentials: "omit" });
      if (!response.ok) throw new Error(String(response.status));
    } catch {
      status.textContent = "Your answer could not be sent. Try again later.";
      return;
    }
    remember({ askedAt: new Date().toISOString() });
    done(`Thank you. Your answer was randomized in this browser before it was sent; we will not ask again for ${everyDays} days.`);
  });
}

start();
