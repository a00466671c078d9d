import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as childProcess from "node:child_process"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { TokenStore } from "tokenlayer"
import type { WriterConfig } from "./support/fileWriter.js"
import { writerConfigVariable, writerTokenNumber } from "./support/fileWriter.js"
import * as Fleet from "./support/fleet.js"
import * as TokenEndpoint from "./support/tokenEndpoint.js"

const issued = (index: number): string => `fleet-token-${index}`

const tempDirectory = Effect.flatMap(
  FileSystem.FileSystem,
  (fs) => fs.makeTempDirectoryScoped({ prefix: "tokenlayer-fleet-" })
)
  .pipe(Effect.map((root) => path.join(root, "tokens")), Effect.provide(NodeFileSystem.layer), Effect.orDie)

describe("a fleet of 8 processes sharing a file store", () => {
  it.live("cold start: exactly 1 token request; once the token is due: exactly 1 more", () =>
    Effect.gen(function*() {
      const endpoint = yield* TokenEndpoint.TokenEndpoint
      yield* endpoint.respond((_, index) => TokenEndpoint.tokenReply({ access_token: issued(index), expires_in: 3600 }))
      const directory = yield* tempDirectory
      const fleet = yield* Fleet.start(8, {
        tokenUrl: endpoint.url,
        store: { kind: "file", directory },
        refreshBufferMillis: 300_000
      })
      const first = yield* fleet.broadcast({ cmd: "get" })
      assert.deepStrictEqual(first.map((a) => a.ok && a.tokenHash), Array(8).fill(Fleet.tokenHash(issued(0))))
      assert.strictEqual((yield* endpoint.requests).length, 1)

      yield* fleet.broadcast({ cmd: "advance", millis: 3_301_000 })
      const second = yield* fleet.broadcast({ cmd: "get" })
      assert.deepStrictEqual(second.map((a) => a.ok && a.tokenHash), Array(8).fill(Fleet.tokenHash(issued(1))))
      assert.strictEqual((yield* endpoint.requests).length, 2)
    }).pipe(Effect.scoped, Effect.provide(TokenEndpoint.layer)), 120_000)
})

/** Polls (real time, at most a minute: processes on a loaded machine) until `check` holds. */
const eventually = (what: string, check: Effect.Effect<boolean>): Effect.Effect<void> =>
  TokenEndpoint.pollUntil(what, check, 60_000)

/** The pid in the (only) lock file of `directory`, once there is one. */
const lockOwner = (directory: string): Effect.Effect<number> =>
  Effect.gen(function*() {
    let pid: number | undefined
    yield* eventually(
      "a lock file",
      Effect.promise(async () => {
        const names = await fs.readdir(directory).catch(() => [])
        const lock = names.find((name) => name.endsWith(".lock"))
        if (lock === undefined) return false
        const content = await fs.readFile(path.join(directory, lock), "utf8").catch(() => "")
        try {
          pid = (JSON.parse(content) as { readonly pid: number }).pid
          return true
        } catch {
          return false
        }
      })
    )
    return pid!
  })

/** A token endpoint whose first answer takes `delay` (the holder's fetch), the others none. */
const slowFirst = (delay: Duration.DurationInput) => (_: unknown, index: number): TokenEndpoint.Reply => ({
  ...TokenEndpoint.tokenReply({ access_token: issued(index), expires_in: 3600 }),
  ...(index === 0 ? { delay } : {})
})

/**
 * Starts `size` workers on a file store whose first token request hangs for 10 minutes, has every worker
 * ask for a token at once, and returns once one of them holds the store's lock and fetches: its `pid`,
 * its worker (`holder`), and `othersAnswer`, which waits for every other worker's answer.
 */
const fetchingFleet = (
  size: number,
  options: { readonly staleAfterMillis: number; readonly lockTimeoutMillis: number }
) =>
  Effect.gen(function*() {
    const endpoint = yield* TokenEndpoint.TokenEndpoint
    yield* endpoint.respond(slowFirst("10 minutes"))
    const directory = yield* tempDirectory
    const fleet = yield* Fleet.start(size, {
      tokenUrl: endpoint.url,
      store: { kind: "file", directory, staleAfterMillis: options.staleAfterMillis },
      lockTimeoutMillis: options.lockTimeoutMillis
    })
    const sent = yield* Effect.forEach(
      fleet.workers,
      (worker) => Effect.map(worker.send({ cmd: "get" }), (id) => [worker, id] as const)
    )
    yield* eventually("the first token request", Effect.map(endpoint.requests, (all) => all.length >= 1))
    const pid = yield* lockOwner(directory)
    const holder = fleet.workers.find((worker) => worker.pid === pid)
    const othersAnswer = Effect.forEach(
      sent.filter(([worker]) => worker !== holder),
      ([worker, id]) => worker.answer(id),
      { concurrency: "unbounded" }
    )
    return { endpoint, fleet, pid, holder, othersAnswer }
  })

// 8 processes where the issue asks for them, 4 where fewer show the same: every process costs 0.3 s of
// CPU on a 2-core machine
describe("the lock holder of a fleet", () => {
  it.live(
    "killed (SIGKILL) mid-fetch: the others take over its lock at once and make one more request",
    () =>
      Effect.gen(function*() {
        // staleAfter and lockTimeout of 10 minutes: only the dead-owner check can free the lock in time
        const { endpoint, fleet, holder, othersAnswer, pid } = yield* fetchingFleet(8, {
          staleAfterMillis: 600_000,
          lockTimeoutMillis: 600_000
        })
        assert.isDefined(holder, "the lock holder is a worker")
        yield* holder!.kill

        const answers = yield* othersAnswer
        assert.deepStrictEqual(answers.map((a) => a.ok && a.tokenHash), Array(7).fill(Fleet.tokenHash(issued(1))))
        assert.strictEqual((yield* endpoint.requests).length, 2)
        const logs = yield* fleet.logs
        assert.isTrue(
          logs.some((line) => line.message.includes(`its owner, process ${pid}, is gone`)),
          "recovery logged"
        )
      }).pipe(Effect.scoped, Effect.provide(TokenEndpoint.layer)),
    120_000
  )

  it.live(
    "frozen (SIGSTOP) mid-fetch: its lock goes stale after staleAfter, one other process fetches",
    () =>
      Effect.gen(function*() {
        const { endpoint, fleet, holder, othersAnswer, pid } = yield* fetchingFleet(4, {
          staleAfterMillis: 3000,
          lockTimeoutMillis: 600_000
        })
        process.kill(pid, "SIGSTOP")

        const answers = yield* othersAnswer
        assert.deepStrictEqual(answers.map((a) => a.ok && a.tokenHash), Array(3).fill(Fleet.tokenHash(issued(1))))
        assert.strictEqual((yield* endpoint.requests).length, 2)
        const logs = yield* fleet.logs
        assert.isTrue(logs.some((line) => line.message.includes("was not refreshed for")), "stale lock recovery logged")

        // woken up, the old holder finds its lock gone, says so, and does not delete anyone else's
        process.kill(pid, "SIGCONT")
        yield* eventually(
          "the old holder to notice",
          Effect.map(holder!.logs, (lines) => lines.some((line) => line.message.includes("was taken over")))
        )
      }).pipe(Effect.scoped, Effect.provide(TokenEndpoint.layer)),
    120_000
  )

  it.live(
    "alive with a slow fetch: it keeps its lock fresh (heartbeat), nobody takes it over",
    () =>
      Effect.gen(function*() {
        const endpoint = yield* TokenEndpoint.TokenEndpoint
        // a fetch that lasts more than twice staleAfter (a heartbeat every second: a holder would have to
        // stall for 2 s on end to lose its lock)
        yield* endpoint.respond(slowFirst("7 seconds"))
        const directory = yield* tempDirectory
        const fleet = yield* Fleet.start(4, {
          tokenUrl: endpoint.url,
          store: { kind: "file", directory, staleAfterMillis: 3000 },
          lockTimeoutMillis: 600_000
        })
        const answers = yield* fleet.broadcast({ cmd: "get" })
        assert.deepStrictEqual(answers.map((a) => a.ok && a.tokenHash), Array(4).fill(Fleet.tokenHash(issued(0))))
        assert.strictEqual((yield* endpoint.requests).length, 1)
      }).pipe(Effect.scoped, Effect.provide(TokenEndpoint.layer)),
    120_000
  )

  it.live(
    "frozen, with a lock that never goes stale: the others give up after lockTimeout and fetch on their own",
    () =>
      Effect.gen(function*() {
        const { endpoint, fleet, othersAnswer, pid } = yield* fetchingFleet(4, {
          staleAfterMillis: 600_000,
          lockTimeoutMillis: 2000
        })
        process.kill(pid, "SIGSTOP")

        const answers = yield* othersAnswer
        assert.isTrue(answers.every((a) => a.ok), "every other worker got a token")
        const requests = (yield* endpoint.requests).length
        assert.isAtLeast(requests, 2)
        assert.isAtMost(requests, 4)
        const logs = yield* fleet.logs
        assert.isTrue(
          logs.some((line) => line.message.includes("fetching without the store's lock")),
          "fallback logged"
        )
        process.kill(pid, "SIGCONT")
      }).pipe(Effect.scoped, Effect.provide(TokenEndpoint.layer)),
    120_000
  )
})

describe("a process killed while it writes token files", () => {
  it.live(
    "SIGKILL at random moments, 200 times: the file is always a whole token, never half of one",
    () =>
      Effect.gen(function*() {
        const directory = yield* tempDirectory
        const key = "grant=client_credentials;token_url=http://127.0.0.1/oauth2/token;client_id=writer"
        const store = yield* TokenStore.makeFile({ directory }).pipe(Effect.provide(NodeFileSystem.layer))
        const { args } = yield* Fleet.launcher("fileWriter", { snapshot: true })
        const lanes = 2
        const killsPerLane = 100
        const seen = { whole: 0, notCached: 0, numbers: new Set<number>() }

        const killOnce = (lane: number, round: number) =>
          Effect.scoped(Effect.gen(function*() {
            const config: WriterConfig = { directory, key, first: (lane * killsPerLane + round) * 1_000_000 }
            const child = yield* Effect.acquireRelease(
              Effect.sync(() =>
                childProcess.spawn(process.execPath, args, {
                  env: { ...process.env, [writerConfigVariable]: JSON.stringify(config) },
                  stdio: ["pipe", "pipe", "pipe"]
                })
              ),
              (child) => Effect.sync(() => child.kill("SIGKILL"))
            )
            let stderr = ""
            child.stderr.on("data", (chunk: Buffer) => {
              stderr = (stderr + chunk.toString()).slice(-2000)
            })
            const exited = Effect.async<void>((resume) => {
              if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
              child.once("exit", () => resume(Effect.void))
            })
            yield* Effect.async<void>((resume) => {
              child.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("started") && resume(Effect.void))
              child.once(
                "exit",
                (code) => resume(Effect.dieMessage(`writer exited (${code}) before it started; stderr: ${stderr}`))
              )
            }).pipe(Effect.timeout("60 seconds"), Effect.orDie)
            // let it write for a random while (a save takes a few milliseconds: two fsyncs), then kill it
            yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(0, 15)))
            child.kill("SIGKILL")
            yield* exited.pipe(Effect.timeout("10 seconds"), Effect.orDie)
            const loaded = yield* Effect.either(store.load(key))
            if (loaded._tag === "Left") {
              assert.strictEqual(loaded.left._tag, "NotCached", `after kill ${lane}/${round}: ${loaded.left.message}`)
              seen.notCached++
            } else {
              const n = writerTokenNumber(loaded.right)
              assert.isDefined(n, `after kill ${lane}/${round}: a token the writer wrote`)
              seen.whole++
              seen.numbers.add(n!)
            }
          }))

        yield* Effect.forEach(
          Array.from({ length: lanes }, (_, lane) => lane),
          (lane) =>
            Effect.forEach(Array.from({ length: killsPerLane }, (_, round) => round), (round) => killOnce(lane, round)),
          { concurrency: lanes }
        )
        assert.strictEqual(seen.whole + seen.notCached, lanes * killsPerLane)
        // the writers did write: most reads found a token, and many different ones
        assert.isAbove(seen.whole, lanes * killsPerLane / 2)
        assert.isAbove(seen.numbers.size, 20)
        const info = yield* Effect.promise(() => fs.stat(path.join(directory, TokenStore.fileName(key))))
        assert.strictEqual(info.mode & 0o777, 0o600)
        // the killed writers' temporary files, left behind: the next save deletes them all
        yield* store.save(key, yield* store.load(key))
        assert.deepStrictEqual(yield* Effect.promise(() => fs.readdir(directory)), [TokenStore.fileName(key)])
      }).pipe(Effect.scoped),
    180_000
  )
})
