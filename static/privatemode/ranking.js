// The site's ranking, in the reader's browser: the same scoring as the server's
// (recommendations/feed/scoring.py `score`), the same diversity re-ranking
// (recommendations/ranking.py `rank`) and the same reasons (recommendations/explanations.py),
// computed from the public candidate bundle and what this browser keeps. Nothing here touches
// the page or the network: it takes numbers and returns an order, so node can run it against
// the Python code on the same bundle (tests/privatemode/test_ranking_equivalence.py).
//
// Where numpy computes in float32 (the best similarity to a read, a followed topic's weight,
// the topic vectors of the re-ranking), this rounds with Math.fround at the same step, so
// both sides compare the same numbers.

export const FORMAT = 2;

export const Kind = Object.freeze({
  TOPIC: "topic",
  RELATED_TOPIC: "related_topic",
  HISTORY: "history",
  POPULAR: "popular",
  PICK: "pick",
  FRESH: "fresh",
});

// In relatedTopic: related to the followed topic nearest in content (scoring.NEAREST).
const NEAREST = -2;

// int8 rows (bundle.py `int8_decode`): times the row's scale, or, for unit rows shipped
// without one, divided by the row's norm (an exact integer sum, one square root, one
// division, as numpy does them).
function int8Decode(encoded) {
  const { rows, dimensions } = encoded;
  const binary = atob(encoded.data);
  const values = new Float64Array(rows * dimensions);
  const signed = new Int8Array(dimensions);
  for (let row = 0; row < rows; row++) {
    let squares = 0;
    for (let k = 0; k < dimensions; k++) {
      const byte = binary.charCodeAt(row * dimensions + k);
      signed[k] = byte > 127 ? byte - 256 : byte;
      squares += signed[k] * signed[k];
    }
    let scale;
    if (encoded.scale) scale = encoded.scale[row];
    else scale = squares > 0 ? 1 / Math.sqrt(squares) : 0;
    for (let k = 0; k < dimensions; k++) values[row * dimensions + k] = signed[k] * scale;
  }
  return { rows, dimensions, values };
}

function dot(a, aOffset, b, bOffset, length) {
  let total = 0;
  for (let k = 0; k < length; k++) total += a[aOffset + k] * b[bOffset + k];
  return total;
}

/** The bundle as the ranking reads it: arrays per candidate row (newest first). Format 2
 * (privatemode/bundle.py): links by id, publication as the gap to the row above, popularity
 * as an integer over `popularity_scale`. */
export function decodeBundle(bundle) {
  if (bundle.format !== FORMAT) {
    throw new Error(`Unknown bundle format ${bundle.format}; this page expects ${FORMAT}.`);
  }
  const field = Object.fromEntries(bundle.article_fields.map((name, index) => [name, index]));
  const rows = bundle.articles;
  const count = rows.length;
  const vectors = int8Decode(bundle.vectors);
  const centroids = int8Decode(bundle.model.centroids);
  const dimensions = vectors.dimensions;
  const topicIds = bundle.topics.map((topic) => topic[0]);
  const members = topicIds.map(() => []);
  const columns = [];
  const published = new Float64Array(count);
  let above = bundle.newest_published;
  for (let row = 0; row < count; row++) {
    above -= rows[row][field.earlier_by];
    published[row] = above;
    const own = rows[row][field.columns];
    columns.push(own);
    for (const column of own) members[column].push(row);
  }
  const modelTopicIds = bundle.model.topic_ids;
  // Each story's closeness to each topic centroid of the model, as the pool computes it.
  const modelTopics = modelTopicIds.length;
  const closeness = new Float64Array(count * modelTopics);
  for (let row = 0; row < count; row++) {
    for (let t = 0; t < modelTopics; t++) {
      closeness[row * modelTopics + t] = dot(
        vectors.values, row * dimensions, centroids.values, t * centroids.dimensions, dimensions,
      );
    }
  }
  const hasContent = new Uint8Array(count);
  for (let row = 0; row < count; row++) {
    hasContent[row] = dot(vectors.values, row * dimensions, vectors.values, row * dimensions, dimensions) > 0 ? 1 : 0;
  }
  return {
    count,
    ids: rows.map((row) => row[field.id]),
    titles: rows.map((row) => row[field.title]),
    summaries: rows.map((row) => row[field.summary]),
    published,
    pickUntil: Float64Array.from(rows, (row) => row[field.pick_until]),
    popularity: Float64Array.from(rows, (row) => row[field.popularity] / bundle.popularity_scale),
    counted: Uint8Array.from(rows, (row) => row[field.counted]),
    columns,
    members,
    rowOfId: new Map(rows.map((row, index) => [row[field.id], index])),
    topicIds,
    topicNames: new Map(bundle.topics.map((topic) => [topic[0], topic[1]])),
    topicSlugs: new Map(bundle.topics.map((topic) => [topic[0], topic[2]])),
    columnOf: new Map(topicIds.map((id, column) => [id, column])),
    dimensions,
    vectors: vectors.values,
    hasContent,
    modelTopicIds,
    modelRowOf: new Map(modelTopicIds.map((id, row) => [id, row])),
    centroids: centroids.values,
    affinity: bundle.model.affinity,
    closeness,
    weights: bundle.weights,
    constants: bundle.constants,
    timeZone: bundle.time_zone,
    articleUrl: bundle.article_url,
    topicUrl: bundle.topic_url,
    day: bundle.day,
    modelVersion: bundle.model_version,
  };
}

export function freshness(b, now) {
  const halfLife = b.constants.freshness_half_life_hours;
  return Float64Array.from(b.published, (published) => 0.5 ** (Math.max(now - published, 0) / 3600 / halfLife));
}

/** What scoring may use about this reader (null: the non-personal feed), as page.reader_for. */
export function readerFor(b, { topics, reads }) {
  if (!topics.length) return null;
  const usable = reads.filter((read) => b.rowOfId.has(read.id)).slice(0, b.constants.history_limit);
  const pairReads = [];
  const pairColumns = [];
  usable.forEach((read, position) => {
    for (const column of b.columns[b.rowOfId.get(read.id)]) {
      pairReads.push(position);
      pairColumns.push(column);
    }
  });
  return {
    topicWeights: new Map(topics),
    reads: usable,
    readRows: usable.map((read) => b.rowOfId.get(read.id)),
    pairReads,
    pairColumns,
  };
}

function lentWeights(b, reader) {
  const lent = new Float64Array(b.topicIds.length);
  const lender = new Array(b.topicIds.length).fill(-1);
  if (!b.modelTopicIds.length) return { lent, lender };
  const followed = [...reader.topicWeights].filter(([t, w]) => b.modelRowOf.has(t) && w > 0);
  b.topicIds.forEach((topicId, column) => {
    if (reader.topicWeights.has(topicId) || !b.modelRowOf.has(topicId)) return;
    for (const [source, weight] of followed) {
      const share = b.constants.related_topic_share * weight
        * b.affinity[b.modelRowOf.get(source)][b.modelRowOf.get(topicId)];
      if (share > lent[column]) {
        lent[column] = share;
        lender[column] = source;
      }
    }
  });
  return { lent, lender };
}

/** Per candidate: the greatest similarity to a read it shares a topic with, and which read. */
function historySimilarity(b, reader) {
  const best = new Float32Array(b.count);
  const source = new Int32Array(b.count).fill(-1);
  const d = b.dimensions;
  const positionsOf = new Map();
  reader.pairReads.forEach((position, index) => {
    const row = reader.readRows[position];
    if (!b.hasContent[row]) return;
    const column = reader.pairColumns[index];
    if (!positionsOf.has(column)) positionsOf.set(column, []);
    positionsOf.get(column).push(position);
  });
  for (const column of [...positionsOf.keys()].sort((x, y) => x - y)) {
    const positions = positionsOf.get(column);
    for (const member of b.members[column]) {
      let nearest = -1;
      let value = -Infinity;
      for (const position of positions) {
        const similarity = dot(b.vectors, member * d, b.vectors, reader.readRows[position] * d, d);
        if (similarity > value) {
          value = similarity;
          nearest = position;
        }
      }
      if (value > best[member]) {
        best[member] = value;
        source[member] = nearest;
      }
    }
  }
  return { best, source };
}

/** Every part of every candidate's score, weighted (scoring.score). */
export function score(b, reader, now) {
  const w = b.weights;
  const c = b.constants;
  const count = b.count;
  const fresh = freshness(b, now);
  const pick = Float64Array.from(b.pickUntil, (until) => (until > now ? 1 : 0));
  const popularity = b.popularity;
  const parts = {
    relevance: new Float64Array(count),
    topic: new Float64Array(count),
    related: new Float64Array(count),
    history: new Float64Array(count),
    historySource: new Int32Array(count).fill(-1),
    popularity: new Float64Array(count),
    freshness: new Float64Array(count),
    pick: new Float64Array(count),
    followedTopic: new Array(count).fill(-1),
    relatedTopic: new Array(count).fill(-1),
    nearestOf: null,
  };
  if (reader === null) {
    for (let row = 0; row < count; row++) {
      parts.relevance[row] = w.pick * pick[row] + w.popularity * popularity[row] + w.freshness * fresh[row];
      parts.popularity[row] = w.popularity * popularity[row];
      parts.freshness[row] = w.freshness * fresh[row];
      parts.pick[row] = w.pick * pick[row];
    }
    return parts;
  }
  const topic = new Float64Array(count);
  let related = new Float64Array(count);
  const history = new Float32Array(count);
  for (const [topicId, weight] of reader.topicWeights) {
    const column = b.columnOf.get(topicId);
    if (column === undefined || weight <= 0) continue;
    for (const member of b.members[column]) {
      if (weight > topic[member]) {
        topic[member] = weight;
        parts.followedTopic[member] = topicId;
      }
    }
  }
  const { lent, lender } = lentWeights(b, reader);
  lent.forEach((share, column) => {
    if (!(share > 0)) return;
    for (const member of b.members[column]) {
      if (share > related[member]) {
        related[member] = share;
        parts.relatedTopic[member] = lender[column];
      }
    }
  });
  for (let row = 0; row < count; row++) {
    if (!(related[row] > topic[row])) related[row] = 0;
    if (!(related[row] > 0)) parts.relatedTopic[row] = -1;
  }
  let contentShare = 1.0;
  if (reader.reads.length && count) {
    const { best, source } = historySimilarity(b, reader);
    for (let row = 0; row < count; row++) {
      history[row] = Math.fround(Math.min(Math.max(best[row], 0), 1) * Math.fround(c.history_share));
    }
    parts.historySource = source;
    if (source.some((position) => position >= 0)) contentShare = 1 - c.history_share;
  }
  if (count) {
    const chosen = [...reader.topicWeights].filter(([t, weight]) => b.modelRowOf.has(t) && weight > 0).map(([t]) => t);
    if (chosen.length) {
      const chosenRows = chosen.map((t) => b.modelRowOf.get(t));
      const chosenWeights = chosen.map((t) => Math.fround(reader.topicWeights.get(t)));
      const d = b.dimensions;
      const profile = new Float64Array(d);
      chosenRows.forEach((modelRow, index) => {
        for (let k = 0; k < d; k++) profile[k] += chosenWeights[index] * b.centroids[modelRow * d + k];
      });
      const norm = Math.sqrt(dot(profile, 0, profile, 0, d));
      if (norm > 0) {
        const direction = chosenWeights.map((weight) => weight / norm);
        const ratio = w.content / w.topic;
        const modelTopics = b.modelTopicIds.length;
        for (let row = 0; row < count; row++) {
          let closeness = 0;
          chosenRows.forEach((modelRow, index) => {
            closeness += b.closeness[row * modelTopics + modelRow] * direction[index];
          });
          closeness = Math.min(Math.max(closeness, 0), 1) * contentShare;
          const lift = ratio * closeness;
          if (topic[row] > 0) {
            topic[row] = topic[row] + lift;
          } else {
            related[row] = related[row] + lift;
            if (parts.relatedTopic[row] < 0 && related[row] > 0) parts.relatedTopic[row] = NEAREST;
          }
        }
        parts.nearestOf = { chosen, chosenRows };
      }
    }
  }
  for (let row = 0; row < count; row++) {
    // numpy multiplies the float32 history by the weight in float32.
    const weightedHistory = Math.fround(Math.fround(w.content) * history[row]);
    const personalPick = c.personal_pick_share * w.pick * pick[row];
    // The history part last, as the server adds it.
    parts.relevance[row] = w.topic * (topic[row] + related[row])
      + w.popularity * popularity[row] + w.freshness * fresh[row] + personalPick + weightedHistory;
    parts.topic[row] = w.topic * topic[row];
    parts.related[row] = w.topic * related[row];
    parts.history[row] = weightedHistory;
    parts.popularity[row] = w.popularity * popularity[row];
    parts.freshness[row] = w.freshness * fresh[row];
    parts.pick[row] = personalPick;
  }
  return parts;
}

function relatedTopicOf(b, parts, row) {
  const topicId = parts.relatedTopic[row];
  if (topicId !== NEAREST || parts.nearestOf === null) return topicId;
  const d = b.dimensions;
  let best = -Infinity;
  let chosen = -1;
  parts.nearestOf.chosenRows.forEach((modelRow, index) => {
    const value = dot(b.centroids, modelRow * d, b.vectors, row * d, d);
    if (value > best) {
      best = value;
      chosen = parts.nearestOf.chosen[index];
    }
  });
  return chosen;
}

/** Indices of the first `stop` of `relevance` in feed order (ranking.rank). */
export function rank(b, { relevance, rows, stop }) {
  const c = b.constants;
  const diversity = c.diversity;
  const count = relevance.length;
  stop = Math.min(stop, count);
  if (stop <= 0) return [];
  const size = Math.max(stop * c.pool_per_item, c.min_pool);
  const pool = Array.from(relevance, (_, index) => index)
    .sort((x, y) => (relevance[y] - relevance[x]) || (x - y))
    .slice(0, size);
  let top = -Infinity;
  for (const index of pool) top = Math.max(top, relevance[index]);
  const relevant = pool.map((index) => (1 - diversity) * (top > 0 ? relevance[index] / top : relevance[index]));
  const d = b.dimensions;
  const sourceRows = pool.map((index) => rows[index]);
  // A story's topic set as a unit float32 vector, for similarity where content is missing.
  const topicValue = sourceRows.map((row) => {
    const k = b.columns[row].length;
    return k ? Math.fround(1 / Math.fround(Math.sqrt(k))) : 0;
  });
  const placed = new Uint8Array(pool.length);
  const nearest = new Float64Array(pool.length);
  let capped = new Uint8Array(pool.length);
  const pageCounts = new Int32Array(Math.max(b.topicIds.length, 1));
  const order = [];
  for (let position = 0; position < stop; position++) {
    if (position % c.page_size === 0) {
      pageCounts.fill(0);
      capped = new Uint8Array(pool.length);
    }
    // The first best story not placed and not capped; when all left are capped, the first
    // best of them (the page is filled anyway).
    let choice = -1;
    let anyChoice = -1;
    let bestAllowed = -Infinity;
    let bestAny = -Infinity;
    for (let i = 0; i < pool.length; i++) {
      if (placed[i]) continue;
      const value = relevant[i] - diversity * nearest[i];
      if (anyChoice < 0 || value > bestAny) {
        bestAny = value;
        anyChoice = i;
      }
      if (!capped[i] && (choice < 0 || value > bestAllowed)) {
        bestAllowed = value;
        choice = i;
      }
    }
    if (choice < 0) choice = anyChoice;
    order.push(pool[choice]);
    placed[choice] = 1;
    const chosenRow = sourceRows[choice];
    const chosenColumns = b.columns[chosenRow];
    for (let i = 0; i < pool.length; i++) {
      const row = sourceRows[i];
      let similarity = 0;
      if (b.hasContent[chosenRow] && b.hasContent[row]) {
        similarity = dot(b.vectors, row * d, b.vectors, chosenRow * d, d);
      } else {
        for (const column of b.columns[row]) {
          if (chosenColumns.includes(column)) {
            similarity = Math.fround(similarity + Math.fround(topicValue[i] * topicValue[choice]));
          }
        }
      }
      if (similarity > nearest[i]) nearest[i] = similarity;
    }
    let reached = false;
    for (const column of chosenColumns) {
      pageCounts[column] += 1;
      if (pageCounts[column] >= c.topic_cap) reached = true;
    }
    if (reached) {
      for (let i = 0; i < pool.length; i++) {
        capped[i] = b.columns[sourceRows[i]].some((column) => pageCounts[column] >= c.topic_cap) ? 1 : 0;
      }
    }
  }
  return order;
}

/** The kind of the part that contributed most (explanations.reason_kind). */
export function reasonKind(parts, row, popularityShare, popularFloor) {
  const candidates = [
    [Kind.TOPIC, parts.topic[row]],
    [Kind.RELATED_TOPIC, parts.related[row]],
    [Kind.HISTORY, parts.history[row]],
    [Kind.POPULAR, popularityShare >= popularFloor ? parts.popularity[row] : 0],
    [Kind.PICK, parts.pick[row]],
    [Kind.FRESH, parts.freshness[row]],
  ];
  let [kind, best] = candidates[0];
  for (const [other, value] of candidates.slice(1)) {
    if (value > best) {
      kind = other;
      best = value;
    }
  }
  return best > 0 ? kind : Kind.FRESH;
}

function localDate(epochSeconds, timeZone) {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone, year: "numeric", month: "2-digit", day: "2-digit",
  }).formatToParts(new Date(epochSeconds * 1000));
  const get = (type) => Number(parts.find((part) => part.type === type).value);
  return { year: get("year"), month: get("month"), day: get("day") };
}

/** 'today', 'yesterday', 'on Monday' within the week, else 'on 3 March' (explanations.when_read). */
export function whenRead(readAt, now, timeZone) {
  const day = localDate(readAt, timeZone);
  const today = localDate(now, timeZone);
  const days = Math.round(
    (Date.UTC(today.year, today.month - 1, today.day) - Date.UTC(day.year, day.month - 1, day.day)) / 86400000,
  );
  if (days <= 0) return "today";
  if (days === 1) return "yesterday";
  const noon = new Date(Date.UTC(day.year, day.month - 1, day.day, 12));
  if (days < 7) {
    return `on ${new Intl.DateTimeFormat("en-GB", { weekday: "long", timeZone: "UTC" }).format(noon)}`;
  }
  return `on ${day.day} ${new Intl.DateTimeFormat("en-GB", { month: "long", timeZone: "UTC" }).format(noon)}`;
}

function sentence(b, kind, row, parts, reader, now) {
  if (kind === Kind.TOPIC) {
    return { sentence: `Because you follow ${b.topicNames.get(parts.followedTopic[row])}` };
  }
  if (kind === Kind.RELATED_TOPIC) {
    return { sentence: `Related to ${b.topicNames.get(relatedTopicOf(b, parts, row))}, which you follow` };
  }
  if (kind === Kind.HISTORY) {
    const read = reader.reads[parts.historySource[row]];
    return {
      sentence: `Because you read '${b.titles[b.rowOfId.get(read.id)]}' ${whenRead(read.at, now, b.timeZone)}`,
      readId: read.id,
    };
  }
  if (kind === Kind.POPULAR) return { sentence: "Popular today" };
  if (kind === Kind.PICK) return { sentence: "Editor's pick" };
  return { sentence: "One of the newest stories" };
}

/**
 * The front page for this browser's reader: the first `stop` stories, each with its reason.
 * `mine`: {topics: [[topicId, weight], ...] in the order the reader's topics are listed,
 * blocked: [topicId, ...], reads: [{id, at}, ...] newest first}. `now` in epoch seconds.
 * Without topics it is the non-personal page (as the server's at level Off).
 */
export function rankFeed(b, mine, { now, stop }) {
  const reader = readerFor(b, mine);
  const keep = new Uint8Array(b.count);
  for (let row = 0; row < b.count; row++) keep[row] = b.published[row] <= now ? 1 : 0;
  if (reader !== null) {
    for (const read of mine.reads) {
      const row = b.rowOfId.get(read.id);
      if (row !== undefined) keep[row] = 0;
    }
  }
  const blocked = new Set((mine.blocked || []).filter((t) => b.columnOf.has(t)).map((t) => b.columnOf.get(t)));
  if (blocked.size) {
    for (let row = 0; row < b.count; row++) {
      if (b.columns[row].some((column) => blocked.has(column))) keep[row] = 0;
    }
  }
  const parts = score(b, reader, now);
  const visible = [];
  for (let row = 0; row < b.count; row++) if (keep[row]) visible.push(row);
  const order = rank(b, {
    relevance: Float64Array.from(visible, (row) => parts.relevance[row]),
    rows: visible,
    stop,
  });
  let top = 0;
  for (const row of visible) top = Math.max(top, b.popularity[row]);
  return order.map((index) => {
    const row = visible[index];
    const share = top > 0 && b.counted[row] ? b.popularity[row] / top : 0;
    const kind = reasonKind(parts, row, share, b.constants.popular_floor);
    return { id: b.ids[row], row, kind, ...sentence(b, kind, row, parts, reader, now) };
  });
}
