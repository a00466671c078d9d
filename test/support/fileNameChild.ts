/**
 * Prints, as one line of JSON, `TokenStore.fileName` of a key made of `argv[3]` (default `a`) repeated
 * `argv[2]` times. For the test that a long key gets its file name in linear time: run in a process of
 * its own, so that a name that would take minutes (a pattern that backtracks) is killed at the test's
 * bound, instead of blocking vitest's worker, whose timers cannot fire while it computes.
 *
 * Imports are relative (vitest's aliases do not apply to child processes): started with `launcher` of
 * `fleet.ts` (bundled with esbuild, or run with tsx).
 */
import { fileName } from "../../src/TokenStore.js"

const [count = "0", unit = "a"] = process.argv.slice(2)
process.stdout.write(`${JSON.stringify({ name: fileName(unit.repeat(Number(count))) })}\n`)
