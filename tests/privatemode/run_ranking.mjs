// Runs the browser's ranking (static/privatemode/ranking.js) under node for the equivalence
// test: reads {bundle, cases: [{topics, reads, blocked, now, stop}]} from standard input and
// prints, per case, the ranked stories [{id, kind, sentence}]. Without cases it prints the
// bundle as decodeBundle reads it (ids, publication times, popularity, vectors).
import { readFileSync } from "node:fs";

const { decodeBundle, rankFeed } = await import(process.argv[2]);
const input = JSON.parse(readFileSync(0, "utf8"));
const bundle = decodeBundle(input.bundle);
if (!input.cases) {
  const { ids, published, popularity, vectors, centroids, closeness } = bundle;
  process.stdout.write(JSON.stringify(
    Object.fromEntries(Object.entries({ ids, published, popularity, vectors, centroids, closeness })
      .map(([name, values]) => [name, Array.from(values)])),
  ));
} else {
  const results = input.cases.map((mine) =>
    rankFeed(
      bundle,
      { topics: mine.topics, blocked: mine.blocked, reads: mine.reads.map(([id, at]) => ({ id, at })) },
      { now: mine.now, stop: mine.stop },
    ).map(({ id, kind, sentence }) => ({ id, kind, sentence })),
  );
  process.stdout.write(JSON.stringify(results));
}
