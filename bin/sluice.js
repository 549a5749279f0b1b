#!/bin/sh
":" //; exec node --max-semi-space-size=32 "$0" "$@"
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run by `prepare` on install).
//
// Run as a program, this file is a shell script whose second line execs node on it with
// the flags there (the same process: signals and kill -9 reach node itself); to node,
// that line is a string directive and a comment. `#!/usr/bin/env -S node ...` would do
// the same, but BusyBox's env (Alpine) has no -S.
//
// The flag lets V8's young generation grow to 32 MiB semi-spaces (16 by default): a busy
// broker allocates a few KiB per event, and with half the scavenges, each copying the
// events in flight, `sluice start` delivers 3-12% more events/s (README, Benchmarks;
// 64 MiB gained no more and lengthened each pause). `npm start`, the Dockerfile and the
// benchmarks pass the same flag; `node bin/sluice.js` without it works as before.
import '../dist/cli/main.js';
