/**
 * A fleet of separate Node processes, each with its own `TokenService` (see `fleetWorker.ts`), for
 * tests of what several processes sharing a store do: how many token requests, who gets which token,
 * what happens when one of them is killed.
 *
 * `start(count, config)` spawns the workers and waits until each has built its service; `broadcast`
 * sends a command to every live worker and collects the answers; `worker.kill()` sends SIGKILL. Every
 * process is killed when the scope closes, whatever the test did, and a worker also exits by itself
 * when its stdin closes (the harness's process died), so no test leaves a process behind.
 *
 * The worker is bundled once per test process with esbuild (a dependency of tsx and vite) and started
 * with plain `node` (0.3 s); if esbuild cannot be loaded, or `TOKENLAYER_FLEET_LOADER=tsx`, it is run with
 * `node --import tsx --conditions=source` (2 s per process on the build machines). `launcher` does the
 * same for other scripts of test/support (the file writer of the kill test).
 *
 * Fleet time is real time: run fleet tests with `it.live`, assert on counts and tokens, never on
 * timings, and give waits generous bounds (`answerTimeout`).
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import type * as Esbuild from "esbuild"
import * as childProcess from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { Answer, Command, Output, WorkerConfig } from "./fleetWorker.js"
import { configVariable, tokenHash } from "./fleetWorker.js"

export type { Answer, Command, StoreSpec, WorkerConfig } from "./fleetWorker.js"
export { tokenHash }

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, "..", "..")

/** How a script of test/support is started: `node <args>`. */
export interface Launcher {
  readonly args: ReadonlyArray<string>
}

/** Options of `launcher`. */
export interface LauncherOptions {
  /**
   * Also build a V8 startup snapshot of the bundle (`node --build-snapshot`), which starts in half the
   * time again: for scripts started hundreds of times. The script must hand its main function to
   * `v8.startupSnapshot.setDeserializeMainFunction` when `isBuildingSnapshot()`, and must not load
   * CommonJS dependencies that keep handles open at load time. Falls back to the plain bundle.
   */
  readonly snapshot?: boolean | undefined
}

const launchers = new Map<string, Promise<Launcher>>()

/** Where bundles go: rebuilt by every test process (the sources change), so nothing piles up. */
const bundleDirectory = path.join(root, "node_modules", ".cache", "tokenlayer-test")

/** Writes `file` atomically: test processes running side by side build the same bundles. */
const writeAtomically = (file: string, contents: Uint8Array): void => {
  const temporary = `${file}.${process.pid}.tmp`
  fs.writeFileSync(temporary, contents)
  fs.renameSync(temporary, file)
}

/**
 * How to start `test/support/<name>.ts` quickly: bundled with everything it imports (effect included)
 * into one file that plain `node` starts (0.3 s instead of tsx's 2 s), built once per test process.
 * Falls back to `node --import tsx --conditions=source` when esbuild is not there, or when
 * `TOKENLAYER_FLEET_LOADER=tsx`.
 */
export const launcher = (name: string, options: LauncherOptions = {}): Effect.Effect<Launcher> =>
  Effect.promise(() => {
    const id = `${name}${options.snapshot === true ? ".snapshot" : ""}`
    let pending = launchers.get(id)
    if (pending === undefined) {
      pending = makeLauncher(name, options.snapshot === true)
      launchers.set(id, pending)
    }
    return pending
  })

const makeLauncher = async (name: string, snapshot: boolean): Promise<Launcher> => {
  const source = path.join(here, `${name}.ts`)
  const tsx: Launcher = { args: ["--import", "tsx", "--conditions=source", source] }
  if (process.env.TOKENLAYER_FLEET_LOADER === "tsx") return tsx
  let esbuild: typeof Esbuild
  try {
    esbuild = await import("esbuild")
  } catch {
    return tsx
  }
  fs.mkdirSync(bundleDirectory, { recursive: true })
  const result = await esbuild.build({
    entryPoints: [source],
    bundle: true,
    write: false,
    platform: "node",
    // a snapshot is built from a script without `module` or `import`: an IIFE that requires builtins
    format: snapshot ? "iife" : "esm",
    target: "node20",
    conditions: ["source"],
    absWorkingDir: root,
    logLevel: "silent",
    // CommonJS dependencies (undici, ioredis) call require()
    ...(snapshot ? {} : {
      banner: {
        js:
          "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"
      }
    })
  })
  const outfile = path.join(bundleDirectory, `${name}.${snapshot ? "cjs" : "mjs"}`)
  writeAtomically(outfile, result.outputFiles[0]!.contents)
  if (!snapshot) return { args: [outfile] }
  const blob = path.join(bundleDirectory, `${name}.blob`)
  const building = `${blob}.${process.pid}.tmp`
  const built = await new Promise<boolean>((resolve) => {
    const child = childProcess.spawn(process.execPath, ["--snapshot-blob", building, "--build-snapshot", outfile], {
      cwd: bundleDirectory,
      stdio: "ignore"
    })
    // a build that does not end (something its code starts at load time keeps it alive) is given up:
    // the plain bundle works too, only slower to start
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.once("error", () => resolve(false))
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve(code === 0)
    })
  })
  if (!built) return { args: [outfile] }
  fs.renameSync(building, blob)
  return { args: ["--snapshot-blob", blob] }
}

/** One worker process. */
export interface FleetWorker {
  readonly index: number
  readonly pid: number
  /** Sends a command and waits for its answer (at most `answerTimeout`); dies if the worker dies. */
  readonly request: (command: Command) => Effect.Effect<Answer>
  /** Sends a command without waiting; `answer(id)` waits for its answer. */
  readonly send: (command: Command) => Effect.Effect<number>
  readonly answer: (id: number) => Effect.Effect<Answer>
  /** Sends SIGKILL and waits until the process is gone. */
  readonly kill: Effect.Effect<void>
  /** Whether the process is still running. */
  readonly alive: Effect.Effect<boolean>
  /** The service's log lines so far. */
  readonly logs: Effect.Effect<ReadonlyArray<{ readonly level: string; readonly message: string }>>
  /** The end of what the worker wrote to stderr. */
  readonly stderr: Effect.Effect<string>
}

/** A started fleet. */
export interface Fleet {
  readonly workers: ReadonlyArray<FleetWorker>
  /** Sends `command` to every live worker at once and returns their answers, in worker order. */
  readonly broadcast: (command: Command) => Effect.Effect<ReadonlyArray<Answer>>
  /** Every worker's log lines so far, with the worker's index. */
  readonly logs: Effect.Effect<
    ReadonlyArray<{ readonly worker: number; readonly level: string; readonly message: string }>
  >
}

/** Options of `start`. */
export interface FleetOptions {
  /** How long to wait for a worker to start, or to answer. Default: 60 s (a loaded 2-core machine). */
  readonly answerTimeout?: Duration.DurationInput | undefined
}

const stderrKept = 8192

/**
 * Spawns one worker and waits until its service is built. Killed when the scope closes.
 */
export const startWorker = (
  index: number,
  config: WorkerConfig,
  options: FleetOptions = {}
): Effect.Effect<FleetWorker, never, Scope.Scope> =>
  Effect.gen(function*() {
    const timeout = Duration.decode(options.answerTimeout ?? "60 seconds")
    const { args } = yield* launcher("fleetWorker")
    const ready = yield* Deferred.make<number>()
    const gone = yield* Deferred.make<number | null>()
    const pending = new Map<number, Deferred.Deferred<Answer>>()
    const logs = yield* Ref.make<ReadonlyArray<{ readonly level: string; readonly message: string }>>([])
    let stderr = ""
    let nextId = 1

    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        childProcess.spawn(process.execPath, args, {
          cwd: root,
          env: { ...process.env, [configVariable]: JSON.stringify(config) },
          stdio: ["pipe", "pipe", "pipe"]
        })
      ),
      (child) => killAndWait(child, gone)
    )

    child.on("exit", (code, signal) => {
      const status = code ?? (signal === null ? null : -1)
      Effect.runSync(Deferred.succeed(gone, status))
      const died = `fleet worker ${index} exited (${signal ?? code}) ${stderr === "" ? "" : `; stderr: ${stderr}`}`
      Effect.runSync(Deferred.die(ready, new Error(died)))
      for (const deferred of pending.values()) Effect.runSync(Deferred.die(deferred, new Error(died)))
    })
    child.on("error", (error) => {
      stderr += `spawn error: ${error.message}\n`
    })
    child.stdin.on("error", () => {}) // writing to a killed worker
    child.stderr.setEncoding("utf8")
    child.stderr.on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-stderrKept)
    })
    let buffered = ""
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      buffered += chunk
      let newline = buffered.indexOf("\n")
      while (newline >= 0) {
        const line = buffered.slice(0, newline)
        buffered = buffered.slice(newline + 1)
        newline = buffered.indexOf("\n")
        let output: Output
        try {
          output = JSON.parse(line)
        } catch {
          Effect.runSync(Ref.update(logs, (all) => [...all, { level: "STDOUT", message: line }]))
          continue
        }
        switch (output.type) {
          case "ready":
            Effect.runSync(Deferred.succeed(ready, output.pid))
            break
          case "log":
            Effect.runSync(Ref.update(logs, (all) => [...all, { level: output.level, message: output.message }]))
            break
          case "answer": {
            const deferred = pending.get(output.id)
            if (deferred !== undefined) Effect.runSync(Deferred.succeed(deferred, output))
            break
          }
        }
      }
    })

    const bounded = <A>(what: string, effect: Effect.Effect<A>): Effect.Effect<A> =>
      Effect.timeoutFail(effect, {
        duration: timeout,
        onTimeout: () =>
          new Error(`fleet worker ${index}: no ${what} within ${Duration.format(timeout)}; stderr: ${stderr}`)
      }).pipe(Effect.orDie)

    const pid = yield* bounded("ready line", Deferred.await(ready))

    const sendCommand = (command: Command): Effect.Effect<number> =>
      Effect.gen(function*() {
        if (yield* Deferred.isDone(gone)) {
          return yield* Effect.dieMessage(`fleet worker ${index} is gone; stderr: ${stderr}`)
        }
        const id = nextId++
        pending.set(id, yield* Deferred.make<Answer>())
        child.stdin.write(`${JSON.stringify({ id, ...command })}\n`)
        return id
      })

    const answer = (id: number): Effect.Effect<Answer> =>
      Effect.suspend(() => {
        const deferred = pending.get(id)
        return deferred === undefined
          ? Effect.dieMessage(`fleet worker ${index}: no command ${id}`)
          : bounded(`answer to command ${id}`, Deferred.await(deferred))
      })

    return {
      index,
      pid,
      send: sendCommand,
      answer,
      request: (command) => Effect.flatMap(sendCommand(command), answer),
      kill: killAndWait(child, gone),
      alive: Effect.map(Deferred.isDone(gone), (done) => !done),
      logs: Ref.get(logs),
      stderr: Effect.sync(() => stderr)
    } satisfies FleetWorker
  })

/** SIGKILL, then wait for the exit (bounded: a process that does not go away is a broken machine). */
const killAndWait = (
  child: childProcess.ChildProcess,
  gone: Deferred.Deferred<number | null>
): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (yield* Deferred.isDone(gone)) return
    child.kill("SIGKILL")
    yield* Deferred.await(gone).pipe(Effect.timeout("10 seconds"), Effect.ignore)
  })

/**
 * Spawns `count` workers with the same configuration (at once) and waits until every one is ready.
 */
export const start = (
  count: number,
  config: WorkerConfig,
  options: FleetOptions = {}
): Effect.Effect<Fleet, never, Scope.Scope> =>
  Effect.gen(function*() {
    const workers = yield* Effect.forEach(
      Array.from({ length: count }, (_, i) => i),
      (index) => startWorker(index, config, options),
      { concurrency: "unbounded" }
    )
    const live = Effect.filter(workers, (worker) => worker.alive)
    return {
      workers,
      broadcast: (command) =>
        Effect.flatMap(live, (alive) =>
          Effect.flatMap(
            // every command is written before any answer is awaited: all start at once
            Effect.forEach(alive, (worker) => Effect.map(worker.send(command), (id) => [worker, id] as const)),
            (sent) => Effect.forEach(sent, ([worker, id]) => worker.answer(id), { concurrency: "unbounded" })
          )),
      logs: Effect.map(
        Effect.forEach(workers, (worker) =>
          Effect.map(worker.logs, (lines) => lines.map((line) => ({ worker: worker.index, ...line })))),
        (all) =>
          all.flat()
      )
    } satisfies Fleet
  })
