/**
 * The `tokenlayer` command as a child process, for tests that run it as a shell would.
 *
 * `src/cli/main.ts` is bundled once per test process with esbuild (as `fleet.ts` bundles its worker:
 * from the sources, so never a stale `dist/`) and started with plain `node`. Every run gets its own
 * environment: no variable of the test process leaks in except PATH, so a developer's own
 * `TOKENLAYER_*` or `XDG_*` settings cannot change a test; tests give `HOME`, `XDG_CONFIG_HOME` and
 * `TOKENLAYER_STATE_DIR` pointing into temporary directories.
 *
 * `run` waits for the exit and answers the code, stdout and stderr; `spawn` starts a long-running
 * command (`login`) whose stderr the test reads while it runs. Every process is killed when the scope
 * closes, and a run that takes longer than `timeout` is killed and fails the test.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import type * as Esbuild from "esbuild"
import * as childProcess from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, "..", "..")
const bundleDirectory = path.join(root, "node_modules", ".cache", "tokenlayer-test")

let bundled: Promise<string> | undefined

/** Bundles `src/cli/main.ts` into one file plain `node` starts; once per test process. */
export const bundle: Effect.Effect<string> = Effect.promise(() => {
  bundled ??= (async () => {
    const esbuild: typeof Esbuild = await import("esbuild")
    fs.mkdirSync(bundleDirectory, { recursive: true })
    const result = await esbuild.build({
      entryPoints: [path.join(root, "src", "cli", "main.ts")],
      bundle: true,
      write: false,
      platform: "node",
      format: "esm",
      target: "node20",
      conditions: ["source"],
      absWorkingDir: root,
      logLevel: "silent",
      banner: {
        js:
          "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"
      }
    })
    // one file per worktree and test process: node_modules (and so this directory) may be shared by
    // several checkouts, each bundling its own sources
    const checkout = crypto.createHash("sha256").update(root).digest("hex").slice(0, 12)
    const outfile = path.join(bundleDirectory, `tokenlayer-cli-${checkout}-${process.pid}.mjs`)
    process.once("exit", () => fs.rmSync(outfile, { force: true }))
    const temporary = `${outfile}.${process.pid}.tmp`
    fs.writeFileSync(temporary, result.outputFiles[0]!.contents)
    fs.renameSync(temporary, outfile)
    return outfile
  })()
  return bundled
})

/** What a finished run left. */
export interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Options of a run. */
export interface RunOptions {
  /** The whole environment of the child (PATH is added). */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Written to the child's stdin, which is then closed. Default: stdin closed at once. */
  readonly stdin?: string | undefined
  /** Default: 60 s (a loaded 2-core machine starting ten at once). */
  readonly timeout?: Duration.DurationInput | undefined
}

const environment = (env: Readonly<Record<string, string>> | undefined): Record<string, string> => ({
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  ...env
})

/** A running command. */
export interface Running {
  readonly pid: number
  /** What it wrote to stderr so far. */
  readonly stderr: Effect.Effect<string>
  /** Waits until stderr matches, and answers the match (at most `timeout`). */
  readonly waitForStderr: (pattern: RegExp) => Effect.Effect<RegExpExecArray>
  /** Waits until stdout matches, and answers the match (at most `timeout`). */
  readonly waitForStdout: (pattern: RegExp) => Effect.Effect<RegExpExecArray>
  /** Waits for the exit. */
  readonly result: Effect.Effect<Result>
}

/** Starts `tokenlayer <args>`; killed when the scope closes. */
export const spawn = (
  args: ReadonlyArray<string>,
  options: RunOptions = {}
): Effect.Effect<Running, never, Scope.Scope> =>
  Effect.gen(function*() {
    const script = yield* bundle
    const timeout = Duration.decode(options.timeout ?? "60 seconds")
    const done = yield* Deferred.make<Result>()
    const output = yield* Ref.make({ stdout: "", stderr: "" })
    const changed = yield* Ref.make(yield* Deferred.make<void>())
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        childProcess.spawn(process.execPath, [script, ...args], {
          cwd: root,
          env: environment(options.env),
          stdio: ["pipe", "pipe", "pipe"]
        })
      ),
      (child) =>
        Effect.gen(function*() {
          if (yield* Deferred.isDone(done)) return
          child.kill("SIGKILL")
          yield* Deferred.await(done).pipe(Effect.timeout("10 seconds"), Effect.ignore)
        })
    )
    const notify = Effect.flatMap(Ref.getAndSet(changed, Effect.runSync(Deferred.make<void>())), (d) =>
      Deferred.succeed(d, undefined))
    child.stdout.setEncoding("utf8")
    child.stderr.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      Effect.runSync(Ref.update(output, (o) => ({ ...o, stdout: o.stdout + chunk })))
      Effect.runSync(notify)
    })
    child.stderr.on("data", (chunk: string) => {
      Effect.runSync(Ref.update(output, (o) => ({ ...o, stderr: o.stderr + chunk })))
      Effect.runSync(notify)
    })
    child.stdin.on("error", () => {})
    child.on("error", (error) => {
      Effect.runSync(Ref.update(output, (o) => ({ ...o, stderr: `${o.stderr}spawn error: ${error.message}\n` })))
    })
    child.on("close", (code) => {
      const { stderr, stdout } = Effect.runSync(Ref.get(output))
      Effect.runSync(Deferred.succeed(done, { code, stdout, stderr }))
      Effect.runSync(notify)
    })
    if (options.stdin !== undefined) {
      child.stdin.write(options.stdin)
    }
    child.stdin.end()

    const bounded = <A>(what: string, effect: Effect.Effect<A>): Effect.Effect<A> =>
      Effect.timeoutFail(effect, {
        duration: timeout,
        onTimeout: () =>
          new Error(
            `tokenlayer ${args.join(" ")}: ${what} within ${Duration.format(timeout)}; stderr: ${
              Effect.runSync(Ref.get(output)).stderr
            }`
          )
      }).pipe(Effect.orDie)

    const waitFor = (stream: "stdout" | "stderr") => (pattern: RegExp): Effect.Effect<RegExpExecArray> =>
      bounded(
        `no ${stream} matching ${pattern}`,
        Effect.gen(function*() {
          while (true) {
            const wake = yield* Ref.get(changed)
            const match = pattern.exec((yield* Ref.get(output))[stream])
            if (match !== null) {
              return match
            }
            if (yield* Deferred.isDone(done)) {
              return yield* Effect.dieMessage(
                `tokenlayer ${args.join(" ")} exited without ${stream} matching ${pattern}: ${
                  (yield* Ref.get(output)).stderr
                }`
              )
            }
            yield* Deferred.await(wake)
          }
        })
      )
    const waitForStderr = waitFor("stderr")
    const waitForStdout = waitFor("stdout")

    return {
      pid: child.pid ?? -1,
      stderr: Effect.map(Ref.get(output), (o) =>
        o.stderr),
      waitForStderr,
      waitForStdout,
      result: bounded("no exit", Deferred.await(done))
    } satisfies Running
  })

/** Runs `tokenlayer <args>` to its end. */
export const run = (args: ReadonlyArray<string>, options: RunOptions = {}): Effect.Effect<Result> =>
  Effect.scoped(Effect.flatMap(spawn(args, options), (running) => running.result))

/** A temporary home for a test's runs: config, state and secrets under one directory. */
export interface Sandbox {
  readonly root: string
  readonly configFile: string
  readonly stateDir: string
  /** The environment of a run: HOME, XDG_CONFIG_HOME, TOKENLAYER_STATE_DIR, and `extra`. */
  readonly env: (extra?: Readonly<Record<string, string>>) => Record<string, string>
  /** Writes the config file (profiles) as given. */
  readonly writeConfig: (config: unknown) => Effect.Effect<void>
  /** Writes a file under the sandbox with `mode`, and answers its path. */
  readonly writeFile: (name: string, content: string, mode: number) => Effect.Effect<string>
  /** The names of the files of the state directory. */
  readonly stateFiles: Effect.Effect<ReadonlyArray<string>>
}

/** A sandbox in a temporary directory, deleted when the scope closes. */
export const sandbox: Effect.Effect<Sandbox, never, Scope.Scope> = Effect.gen(function*() {
  const root = yield* Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(fs.realpathSync(os.tmpdir()), "tokenlayer-cli-"))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )
  const configFile = path.join(root, "config", "tokenlayer", "config.json")
  const stateDir = path.join(root, "state")
  return {
    root,
    configFile,
    stateDir,
    env: (extra = {}) => ({
      HOME: path.join(root, "home"),
      XDG_CONFIG_HOME: path.join(root, "config"),
      TOKENLAYER_STATE_DIR: stateDir,
      ...extra
    }),
    writeConfig: (config) =>
      Effect.sync(() => {
        fs.mkdirSync(path.dirname(configFile), { recursive: true, mode: 0o700 })
        fs.writeFileSync(configFile, JSON.stringify(config, null, 2), { mode: 0o600 })
      }),
    writeFile: (name, content, mode) =>
      Effect.sync(() => {
        const file = path.join(root, name)
        fs.mkdirSync(path.dirname(file), { recursive: true })
        fs.writeFileSync(file, content)
        fs.chmodSync(file, mode)
        return file
      }),
    stateFiles: Effect.sync(() => fs.existsSync(stateDir) ? fs.readdirSync(stateDir).sort() : [])
  } satisfies Sandbox
})
