#!/usr/bin/env -S node --max-semi-space-size=64
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run by `prepare` on install).
// The flag lets V8's young generation grow to 64 MiB semi-spaces (16 by default): a busy
// broker allocates a few KiB per event, and with 4x fewer scavenges, each copying the
// events in flight, `sluice start` spends about 10% less CPU per event (README,
// Benchmarks). `npm start`, the Dockerfile and the benchmarks pass the same flag;
// `node bin/sluice.js` without it still works, with the default young generation.
import '../dist/cli/main.js';
