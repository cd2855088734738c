// Private mode in the page: on every page, it does nothing unless this browser turned private
// mode on. Then it orders the front page itself from the public bundle (ranking.js), notes the
// stories opened (storage.js), and shows and edits what it keeps. It sends nothing about the
// reader: the one request it makes is for the bundle, the same for everyone, without cookies;
// the only others are the daily randomized report (ldp.js) and the daily noised update of the
// blend weights (federated.js), each when the reader turned it on.

import * as reports from "./ldp.js";
import * as storage from "./storage.js";

const meta = document.querySelector('meta[name="private-mode"]');
if (meta) main(meta.dataset);

function main(config) {
  const signedIn = config.signedIn === "1";
  const level = config.accountLevel || "";
  let state = storage.load();
  if (signedIn && level === "device") {
    state = storage.turnOn("account");
  } else if (signedIn && level && state && state.owner === "account") {
    storage.wipe(); // the account left "On this device only": its copy goes with it
    state = null;
  }
  const active = Boolean(state) && state.owner === (signedIn ? "account" : "visitor");
  const page = { config, signedIn, level, state: active ? state : null };
  startPage(page);
  dataSection(page);
  if (!page.state) return;
  badge(page);
  if (window.location.pathname === config.homeUrl && firstPage()) {
    frontPage(page)
      .catch((error) => console.error("Private mode could not rank this page:", error))
      .finally(() => dailyReport(page));
  } else {
    recordRead(page)
      .catch((error) => console.error("Private mode could not note this read:", error))
      .finally(() => dailyReport(page));
  }
}

// The federated update (federated.js) loads the ranking only when the reader turned it on.
function dailyUpdate(page) {
  if (!(page.state && page.state.federated && page.state.federated.on)) return;
  Promise.all([import("./federated.js"), import("./ranking.js"), bundleJson(page.config)])
    .then(([federated, ranking, bundle]) => federated.run(page.state, bundle, ranking.decodeBundle(bundle)))
    .catch((error) => console.error("Private mode could not prepare its update:", error));
}

function dailyReport(page) {
  dailyUpdate(page);
  if (!reports.isOn(page.state)) return;
  bundleJson(page.config)
    .then((bundle) => reports.run(page.state, bundle))
    .catch((error) => console.error("Private mode could not prepare its report:", error));
}

function firstPage() {
  const number = new URLSearchParams(window.location.search).get("page");
  return number === null || number === "" || number === "1";
}

// The site's stylesheet gives buttons a display of their own, which outranks `hidden`; the
// inline display set here through the CSSOM is not an inline style the CSP forbids.
function show(node, visible) {
  node.hidden = !visible;
  node.style.display = visible ? "" : "none";
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

async function bundleJson(config, options = {}) {
  // No cookie goes with it: the bundle is the same for everyone and must not learn who asks.
  const response = await fetch(config.bundleUrl, { ...options, credentials: "omit" });
  if (!response.ok) throw new Error(`The candidate bundle answered ${response.status}.`);
  return response.json();
}

function badge(page) {
  const nav = document.querySelector(".account-nav");
  if (!nav) return;
  nav.prepend(element("a", { href: page.config.startUrl, class: "private-mode-badge", text: "Private mode" }));
}

// --- The front page ------------------------------------------------------------------------

function byName(names) {
  return (x, y) => {
    const a = names.get(x) || "";
    const b = names.get(y) || "";
    return a < b ? -1 : a > b ? 1 : 0;
  };
}

/** The reader as ranking.js takes them: topics in name order (as the server lists them). */
function mine(state, bundle) {
  const known = state.topics.filter((id) => bundle.topicNames.has(id));
  return {
    topics: known.sort(byName(bundle.topicNames)).map((id) => [id, 1.0]),
    blocked: [],
    reads: state.reads.map((read) => ({ id: read.id, at: read.at })),
  };
}

const dateFormat = new Map();
function cardTime(epochSeconds, timeZone) {
  if (!dateFormat.has(timeZone)) {
    dateFormat.set(timeZone, [
      new Intl.DateTimeFormat("en-GB", { timeZone, day: "numeric", month: "short", year: "numeric" }),
      new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }),
    ]);
  }
  const [day, time] = dateFormat.get(timeZone);
  const when = new Date(epochSeconds * 1000);
  return element("time", { datetime: when.toISOString(), text: `${day.format(when)}, ${time.format(when)}` });
}

function card(bundle, story, config) {
  const row = story.row;
  // The story's short address by id: the site redirects it to the story's own.
  const url = bundle.articleUrl.replace("{id}", String(story.id));
  const meta = element("p", { class: "card-meta" }, cardTime(bundle.published[row], bundle.timeZone));
  for (const column of bundle.columns[row]) {
    const topicId = bundle.topicIds[column];
    const href = bundle.topicUrl.replace("{slug}", encodeURIComponent(bundle.topicSlugs.get(topicId)));
    meta.append(" ", element("a", { class: "tag", href, text: bundle.topicNames.get(topicId) }));
  }
  const article = element(
    "article",
    { class: "card", "data-article-id": String(story.id) },
    element("h3", { class: "card-title" }, element("a", { href: url, text: bundle.titles[row] })),
    meta,
  );
  if (bundle.summaries[row]) article.append(element("p", { class: "card-summary", text: bundle.summaries[row] }));
  article.append(
    element(
      "details",
      { class: "why" },
      element("summary", { text: "Why am I seeing this?" }),
      element(
        "p",
        {},
        element("span", { class: "why-reason", "data-kind": story.kind, text: `${story.sentence}.` }),
        " ",
        element("a", { href: config.startUrl, text: "Ranked in this browser: change your topics here" }),
      ),
    ),
  );
  return article;
}

async function frontPage(page) {
  const { config, state } = page;
  const section = document.querySelector("section.cards");
  if (!section) return;
  if (!state.topics.length) {
    section.before(
      element(
        "p",
        { class: "notice", id: "private-mode-no-topics" },
        "Private mode is on, but this browser follows no topics yet, so this is the page everyone gets. ",
        element("a", { href: config.startUrl, text: "Pick your topics" }),
      ),
    );
    return;
  }
  const ranking = await import("./ranking.js");
  let raw = await bundleJson(config);
  // A copy this browser kept from before the site changed the bundle's format: ask again,
  // past the browser's cache (the server answers with the current one).
  if (raw.format !== ranking.FORMAT) raw = await bundleJson(config, { cache: "no-cache" });
  const bundle = ranking.decodeBundle(raw);
  const reader = mine(state, bundle);
  const now = Date.now() / 1000;
  let shown = bundle.constants.page_size;
  const more = element("button", { type: "button", class: "secondary", id: "private-mode-more", text: "More stories" });
  const render = () => {
    const stories = ranking.rankFeed(bundle, reader, { now, stop: shown });
    section.replaceChildren(...stories.map((story) => card(bundle, story, config)));
    show(more, stories.length >= shown);
  };
  render();
  section.dataset.privateMode = "ranked";
  more.addEventListener("click", () => {
    shown += bundle.constants.page_size;
    render();
  });
  section.after(more);
  document.querySelector("nav.pagination")?.setAttribute("hidden", "");
  const heading = document.querySelector("main h1");
  if (heading) heading.textContent = "Your front page, ranked in this browser";
  const lede = document.querySelector("main p.lede");
  if (lede) {
    lede.replaceChildren(
      "Ordered here from the topics you follow and the stories you opened, which this browser keeps and never sends. ",
      element("a", { href: config.startUrl, text: "Private mode" }),
      ".",
    );
  }
}

// --- A story opened -----------------------------------------------------------------------

async function recordRead(page) {
  // The story's id, as its page names it (nothing on other pages).
  const id = Number(page.config.articleId);
  if (!id) return;
  const bundle = await bundleJson(page.config);
  const field = Object.fromEntries(bundle.article_fields.map((name, index) => [name, index]));
  const row = bundle.articles.find((candidate) => candidate[field.id] === id);
  // A story not among the candidates (older, or not listed) could not shape the ranking.
  if (row) storage.recordRead(page.state, { id: row[field.id], title: row[field.title] }, Date.now() / 1000);
}

// --- The private mode page ----------------------------------------------------------------

function startPage(page) {
  const app = document.getElementById("private-mode-app");
  if (!app) return;
  show(app, true);
  const stateLine = document.getElementById("private-mode-state");
  const on = document.getElementById("private-mode-on");
  const off = document.getElementById("private-mode-off");
  const topics = document.getElementById("private-mode-topics");
  const save = document.getElementById("private-mode-save-topics");
  const boxes = [...topics.querySelectorAll('input[name="private-topic"]')];
  const reportSection = document.getElementById("private-mode-reports");
  const reportBox = document.getElementById("private-mode-reports-on");
  const federatedSection = document.getElementById("private-mode-federated");
  const federatedBox = document.getElementById("private-mode-federated-on");
  const refresh = (message) => {
    const active = Boolean(page.state);
    stateLine.textContent = message || (active
      ? `Private mode is on in this browser: it follows ${page.state.topics.length} topic(s) and remembers ${page.state.reads.length} read(s).`
      : page.signedIn
        ? "Private mode is off for your account. Turn it on above to keep your topics in this browser."
        : "Private mode is off in this browser: it keeps nothing.");
    // Signed in, the account's level is the switch (the form above).
    show(on, !active && !page.signedIn);
    show(off, active && !page.signedIn);
    show(topics, active);
    const followed = new Set(active ? page.state.topics : []);
    for (const box of boxes) box.checked = followed.has(Number(box.value));
    if (reportSection) {
      show(reportSection, active);
      reportBox.checked = reports.isOn(page.state);
    }
    if (federatedSection) {
      show(federatedSection, active);
      federatedBox.checked = Boolean(active && page.state.federated && page.state.federated.on);
    }
  };
  reportBox?.addEventListener("change", () => {
    reports.setOn(page.state, reportBox.checked);
    document.getElementById("private-mode-reports-state").textContent = reportBox.checked
      ? "Reports are on: at most one randomized report a day, about a story you open that day."
      : "Reports are off: this browser sends nothing.";
    dailyReport(page);
  });
  federatedBox?.addEventListener("change", () => {
    import("./federated.js").then((federated) => {
      federated.setOn(page.state, federatedBox.checked);
      document.getElementById("private-mode-federated-state").textContent = federatedBox.checked
        ? "Updates are on: at most one noised update a day, from the stories you open."
        : "Updates are off: this browser sends no update.";
      dailyUpdate(page);
    });
  });
  on.addEventListener("click", () => {
    page.state = storage.turnOn("visitor");
    refresh("Private mode is on in this browser. Pick the topics you follow below.");
    dataSection(page);
  });
  off.addEventListener("click", () => {
    storage.wipe();
    page.state = null;
    refresh("Private mode is off, and everything this browser kept for it is deleted.");
    dataSection(page);
  });
  save.addEventListener("click", () => {
    const chosen = boxes.filter((box) => box.checked);
    page.state.topicNames = Object.fromEntries(chosen.map((box) => [box.value, box.parentElement.textContent.trim()]));
    storage.setTopics(page.state, chosen.map((box) => box.value));
    refresh(`Saved in this browser: you follow ${chosen.length} topic(s). Your front page is ranked from them.`);
    dataSection(page);
  });
  refresh();
}

// --- What this browser keeps --------------------------------------------------------------

function dataSection(page) {
  const section = document.getElementById("private-mode-data");
  if (!section) return;
  const state = page.state;
  show(section, Boolean(state));
  if (!state) return;
  const body = document.getElementById("private-mode-data-body");
  const names = state.topicNames || {};
  const topics = state.topics.length
    ? element("ul", { id: "private-mode-kept-topics" }, ...state.topics.map((id) => element("li", { text: names[id] || `Topic ${id}` })))
    : element("p", { text: "No topics followed." });
  const reads = state.reads.length
    ? element(
      "ul",
      { id: "private-mode-kept-reads" },
      ...state.reads.map((read) => {
        const remove = element("button", {
          type: "button", class: "link", "aria-label": `Delete your read of ${read.title}`, text: "Delete",
        });
        remove.addEventListener("click", () => {
          storage.deleteRead(state, read.id);
          dataSection(page);
        });
        return element("li", {}, `${read.title} (${new Date(read.at * 1000).toLocaleString()}) `, remove);
      }),
    )
    : element("p", { text: "No reads kept." });
  body.replaceChildren(
    element("h3", { text: "Topics you follow" }), topics,
    element("h3", { text: `Stories you opened (${state.reads.length})` }), reads,
  );
  const exportButton = document.getElementById("private-mode-export");
  exportButton.onclick = () => {
    const blob = new Blob([storage.exported(state)], { type: "application/json" });
    const link = element("a", { href: URL.createObjectURL(blob), download: "private-mode.json" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  };
  document.getElementById("private-mode-clear").onclick = () => {
    storage.deleteReads(state);
    dataSection(page);
  };
}
