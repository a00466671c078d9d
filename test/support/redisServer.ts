/**
 * A real `redis-server` for tests: spawned on a free port of 127.0.0.1 with no persistence (`--save ""
 * --appendonly no`, a temporary directory, `--daemonize no`), ready once it answers PING, and killed when
 * its scope closes, even when the test fails. It can be killed mid-test (as a crash would) and started
 * again on the same port.
 *
 * No vitest here (the benchmark uses it too): `describeRedis.ts` skips or fails tests where
 * `redis-server` is not installed.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

/** Whether `redis-server` can be run here, and if not, why. */
export const availability: { readonly available: true } | { readonly available: false; readonly reason: string } =
  (() => {
    const probe = spawnSync("redis-server", ["--version"], { encoding: "utf8", timeout: 10_000 })
    if (probe.error !== undefined || probe.status !== 0) {
      return {
        available: false,
        reason: "redis-server is not installed (on Debian/Ubuntu: apt-get install -y redis-server; .ci/run does it)"
      } as const
    }
    return { available: true } as const
  })()

export interface Service {
  readonly port: number
  /** `redis://127.0.0.1:<port>` (with the password, if the server requires one). */
  readonly url: string
  /** Kills the server with SIGKILL, as a crash would, and waits until it has exited. */
  readonly kill: Effect.Effect<void>
  /** Starts the server again on the same port (an empty one: no persistence) and waits until it answers. */
  readonly restart: Effect.Effect<void>
  /** Whether the server process is running. */
  readonly running: Effect.Effect<boolean>
}

export class RedisServer extends Context.Tag("test/RedisServer")<RedisServer, Service>() {}

export interface Options {
  /** The server requires this password (`--requirepass`). */
  readonly password?: string
  /** More `redis-server` arguments. */
  readonly args?: ReadonlyArray<string>
  /** This port rather than a free one (e.g. one a client was told about before the server started). */
  readonly port?: number
}

/** The longest wait for a server to start, or to exit once killed. */
const startBound = 10_000

/** Every server still running, killed if the test process exits without closing its scope. */
const running = new Set<ChildProcess>()
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL")
})

/** A port of 127.0.0.1 that was free a moment ago. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address()
      if (address === null || typeof address === "string") return reject(new Error("no TCP address"))
      probe.close(() => resolve(address.port))
    })
  })

/** Sends one PING over a raw socket; resolves with the first reply line. */
const ping = (port: number): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1")
    let reply = ""
    socket.setTimeout(startBound, () => socket.destroy(new Error("PING timed out")))
    socket.once("error", reject)
    socket.on("data", (chunk) => {
      reply += chunk.toString("utf8")
      if (reply.includes("\r\n")) {
        socket.destroy()
        resolve(reply.split("\r\n")[0]!)
      }
    })
    socket.write("PING\r\n")
  })

/** Spawns `redis-server` on `port`; resolves once it answers PING, rejects if it exits or does not start. */
const spawnServer = (port: number, dir: string, options: Options): Promise<ChildProcess> =>
  new Promise((resolve, reject) => {
    const args = [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      "--daemonize",
      "no",
      "--loglevel",
      "warning",
      ...(options.password === undefined ? [] : ["--requirepass", options.password]),
      ...(options.args ?? [])
    ]
    const child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] })
    running.add(child)
    let output = ""
    let settled = false
    const fail = (error: Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      child.kill("SIGKILL")
      reject(error)
    }
    const timer = setTimeout(() => fail(new Error(`redis-server did not start within ${startBound} ms`)), startBound)
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-2000)
    }
    child.stdout?.on("data", collect)
    child.stderr?.on("data", collect)
    child.once("error", fail)
    child.once("exit", (code, signal) => {
      running.delete(child)
      fail(new Error(`redis-server exited (${code ?? signal}) before it was ready: ${output.trim()}`))
    })
    // the log level hides "Ready to accept connections": ask until it answers
    const attempt = () => {
      if (settled) return
      ping(port).then(
        (reply) => {
          if (settled) return
          if (reply === "+PONG" || reply.startsWith("-NOAUTH")) {
            settled = true
            clearTimeout(timer)
            resolve(child)
          } else {
            setTimeout(attempt, 10)
          }
        },
        () => setTimeout(attempt, 10)
      )
    }
    attempt()
  })

const killServer = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGKILL")
  })

/** Starts a `redis-server`; it is killed, and its directory removed, when the scope closes. */
export const start = (options: Options = {}): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "tokenlayer-redis-"))),
      (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
    )
    let child: ChildProcess | undefined
    // set when the scope closes: a server that finishes starting after that (the test timed out while
    // it started) is killed at once rather than left running
    let closed = false
    const adopt = async (started: ChildProcess) => {
      if (closed) return killServer(started)
      child = started
    }
    yield* Effect.addFinalizer(() =>
      Effect.promise(() => {
        closed = true
        return child === undefined ? Promise.resolve() : killServer(child)
      })
    )
    // a free port can be taken by someone else before the server binds it: try twice
    const port = yield* Effect.promise(async () => {
      let lastError: unknown
      for (let attempt = 0; attempt < (options.port === undefined ? 2 : 1); attempt++) {
        const port = options.port ?? await freePort()
        try {
          await adopt(await spawnServer(port, dir, options))
          return port
        } catch (error) {
          lastError = error
        }
      }
      throw lastError
    })
    const auth = options.password === undefined ? "" : `:${encodeURIComponent(options.password)}@`
    return {
      port,
      url: `redis://${auth}127.0.0.1:${port}`,
      kill: Effect.promise(() => child === undefined ? Promise.resolve() : killServer(child)),
      restart: Effect.promise(async () => {
        if (child !== undefined) await killServer(child)
        await adopt(await spawnServer(port, dir, options))
      }),
      running: Effect.sync(() => child !== undefined && child.exitCode === null && child.signalCode === null)
    }
  })

/** A `redis-server` for the tests of a layer block. */
export const layer = (options: Options = {}): Layer.Layer<RedisServer> => Layer.scoped(RedisServer, start(options))
