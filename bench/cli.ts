/**
 * Section 9: the command's start-up. `tokenlayer header` with a valid cached token (a shell script's
 * call before each `curl`) against `node -e ''`, each a fresh process, wall time from spawn to exit.
 * The command is bundled here exactly as the package's build bundles it (`buildCli` of
 * `scripts/build.mjs`, from the sources, so never a stale `dist/`), into a temporary directory.
 * Target: at most 3x `node -e ''`, measured in the same run, interleaved.
 *
 * A first `tokenlayer token` fills the file store from the bench's token endpoint; every timed
 * `header` then reads the cached token (the endpoint's request count is checked not to move).
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { buildCli } from "../scripts/build.mjs"
import { startTokenServer } from "./server.js"
import { fmt, median, now, ratios, roundRobin } from "./stats.js"

const TARGET_RATIO = 3
const REPS = 21
const MIN_REPS = 7
const BUDGET_MS = 20_000
const CLIENT_ID = "bench-cli-client"
const CLIENT_SECRET = "bench-cli-secret"

type Status = "PASS" | "MISSED" | "info"

export interface CliRow {
  readonly measure: string
  readonly figure: string
  readonly target: string
  readonly status: Status
}

export interface CliResult {
  readonly rows: ReadonlyArray<CliRow>
  readonly reps: number
}

interface Exited {
  readonly ms: number
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `node ...args` to its end; the wall time is from spawn to the exit event. */
const spawnNode = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Promise<Exited> =>
  new Promise((resolve, reject) => {
    const start = now()
    const child = ChildProcess.spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] })
    const out: Array<Buffer> = []
    const err: Array<Buffer> = []
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk))
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk))
    child.once("error", reject)
    child.once("close", (code) =>
      resolve({
        ms: now() - start,
        code,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8")
      }))
  })

export const runCliBench = async (options: { readonly log: (line: string) => void }): Promise<CliResult> => {
  const { log } = options
  log(`\n9. command start-up: \`tokenlayer header\` with a cached token vs \`node -e ''\`, up to ${REPS} reps`)
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tokenlayer-bench-cli-"))
  const server = await startTokenServer({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET })
  try {
    const bin = await buildCli(Path.join(dir, "bin"))
    const home = Path.join(dir, "home")
    Fs.mkdirSync(home)
    // only what the command needs: no developer's TOKENLAYER_* or XDG_* setting leaks in
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      XDG_CONFIG_HOME: Path.join(home, ".config"),
      TOKENLAYER_STATE_DIR: Path.join(dir, "state"),
      TOKENLAYER_TOKEN_URL: server.url,
      TOKENLAYER_CLIENT_ID: CLIENT_ID,
      TOKENLAYER_CLIENT_SECRET: CLIENT_SECRET
    }
    const first = await spawnNode([bin, "token"], env)
    if (first.code !== 0) throw new Error(`tokenlayer token exited ${first.code}: ${first.stderr}`)
    const requestsBefore = await server.requests()
    let bad: Exited | undefined
    const header = async () => {
      const r = await spawnNode([bin, "header"], env)
      if (r.code !== 0 || !r.stdout.startsWith("Authorization: Bearer ")) bad ??= r
      return r.ms
    }
    const bare = async () => (await spawnNode(["-e", ""], env)).ms
    // warm the OS's file cache for both
    await header()
    await bare()
    const t = await roundRobin(REPS, { header, bare }, { minReps: MIN_REPS, budgetMs: BUDGET_MS })
    if (bad !== undefined) {
      throw new Error(`tokenlayer header exited ${bad.code}: ${bad.stderr}${bad.stdout.slice(0, 40)}`)
    }
    const requests = (await server.requests()) - requestsBefore
    const rs = ratios(t.header, t.bare)
    const ratio = median(rs)
    const bundleKb = Fs.readdirSync(Path.dirname(bin), { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .reduce((sum, entry) => sum + Fs.statSync(Path.join(entry.parentPath, entry.name)).size, 0) / 1024
    log(`   tokenlayer header (cached)  ${fmt(median(t.header), 1)} ms`)
    log(`   node -e ''                  ${fmt(median(t.bare), 1)} ms`)
    log(`   ratio (median of ${t.header.length})        ${fmt(ratio, 2)}x; token requests during the reps: ${requests}`)
    log(`   bundle: ${fmt(bundleKb, 0)} KiB`)
    const figure = `${fmt(ratio, 2)}x (reps ${fmt(Math.min(...rs), 2)}..${fmt(Math.max(...rs), 2)})`
    return {
      reps: t.header.length,
      rows: [
        {
          measure: "9. tokenlayer header, cached token: wall time",
          figure: `${fmt(median(t.header), 1)} ms`,
          target: "",
          status: "info"
        },
        { measure: "9. baseline: node -e ''", figure: `${fmt(median(t.bare), 1)} ms`, target: "", status: "info" },
        {
          measure: "9. tokenlayer header (cached) / node -e ''",
          figure,
          target: `<= ${TARGET_RATIO}x`,
          status: ratio <= TARGET_RATIO && requests === 0 ? "PASS" : "MISSED"
        },
        {
          measure: "9. token requests during the timed headers",
          figure: `${requests}`,
          target: "0",
          status: requests === 0 ? "PASS" : "MISSED"
        }
      ]
    }
  } finally {
    await server.close()
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

// `tsx --conditions=source bench/cli.ts`: this section alone
if (process.argv[1] !== undefined && Path.resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  runCliBench({ log: console.log }).then(
    (result) => {
      for (const r of result.rows) {
        console.log(`${r.measure}  ${r.figure}  ${r.target}  ${r.status === "info" ? "" : r.status}`)
      }
    },
    (error: unknown) => {
      console.error("bench failed:", error)
      process.exitCode = 1
    }
  )
}
