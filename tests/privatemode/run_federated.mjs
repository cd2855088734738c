// Runs the browser's federated update (static/privatemode/federated.js) under node for the
// equivalence test: reads {bundle, cases: [{topics, reads, names, maxReads}], noise: {seed,
// count, update, clip, sigma}} from standard input and prints {gradients, normals, noised}:
// per case the noiseless gradient, `count` standard normals and one noised update, both
// drawn from a seeded generator in place of the browser's cryptographic one.
import { readFileSync } from "node:fs";

const [ranking, federated] = await Promise.all([import(process.argv[2]), import(process.argv[3])]);
const input = JSON.parse(readFileSync(0, "utf8"));
const bundle = ranking.decodeBundle(input.bundle);
const gradients = input.cases.map((mine) =>
  federated.gradient(
    bundle,
    { topics: mine.topics, reads: mine.reads.map(([id, at]) => ({ id, at })) },
    { names: mine.names, maxReads: mine.maxReads },
  ),
);

// mulberry32: a small seeded generator, in (0, 1] as the browser's draw is.
function seeded(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967296;
  };
}
const { seed, count, update, clip, sigma } = input.noise;
const normals = federated.normals(count, seeded(seed));
const noised = federated.noised(update, { clip, sigma }, seeded(seed));
const clipped = federated.clip(update, clip);
process.stdout.write(JSON.stringify({ gradients, normals, noised, clipped, first: federated.normals(update.length, seeded(seed)) }));
