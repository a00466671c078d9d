/**
 * One process of a fleet (see `fleet.ts`): a `TokenService` over a real token endpoint and a store
 * chosen by the harness, driven by JSON lines on stdin, answering with JSON lines on stdout.
 *
 * Configuration: the JSON of a `WorkerConfig` in the environment variable `TOKENLAYER_FLEET_CONFIG`.
 *
 * Commands (one JSON object per line on stdin), each with an `id` echoed in its answer:
 * - `{ "id": 1, "cmd": "get" }`: `TokenService.get`; answers with `tokenHash` (a SHA-256 prefix of the
 *   access token, never the token), `issuedAt` and `expiresAt`;
 * - `{ "id": 2, "cmd": "refresh" }`, `{ "id": 3, "cmd": "invalidate" }`;
 * - `{ "id": 4, "cmd": "advance", "millis": 3300000 }`: moves this process's Clock forward, so that a
 *   token becomes due without waiting for it (every worker is advanced by the same amount);
 * - `{ "id": 5, "cmd": "exit" }`.
 *
 * Lines on stdout: `{ "type": "ready", "pid": n }` once the service is built, `{ "type": "answer", ... }`
 * for each command, `{ "type": "log", "level": ..., "message": ... }` for every log line of the
 * service (debug included). The process ends when its stdin closes, so it never outlives the harness.
 *
 * Imports are relative (vitest's aliases do not apply to child processes): the harness bundles this
 * file with esbuild, or runs it with `node --import tsx`.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import * as crypto from "node:crypto"
import * as readline from "node:readline"
import type { Token } from "../../src/index.js"
import { Grant, RefreshPolicy, RetryPolicy, TokenService, TokenSource, TokenStore } from "../../src/index.js"
import * as RedisStore from "../../src/TokenStore/Redis.js"

/** Which store the worker uses. */
export type StoreSpec =
  | { readonly kind: "memory" }
  | {
    readonly kind: "file"
    readonly directory: string
    /** `TokenStore.FileOptions.staleAfter`, in milliseconds. */
    readonly staleAfterMillis?: number | undefined
  }
  | {
    readonly kind: "redis"
    readonly url: string
    readonly prefix: string
    /** `RedisStore.Options.lease`, in milliseconds. */
    readonly leaseMillis?: number | undefined
  }

/** What a worker is built from. */
export interface WorkerConfig {
  readonly tokenUrl: string
  readonly clientId?: string | undefined
  readonly clientSecret?: string | undefined
  /** When given: RFC 8693 token exchange of the token in this file, instead of client credentials. */
  readonly subjectTokenFile?: string | undefined
  readonly store: StoreSpec
  /** `RefreshPolicy.fixed`, in milliseconds. Default: 5 minutes. */
  readonly refreshBufferMillis?: number | undefined
  /** `TokenService` options, in milliseconds. */
  readonly lockTimeoutMillis?: number | undefined
  readonly storeTimeoutMillis?: number | undefined
  /** Retries of the default retry policy. Default: 2. */
  readonly retries?: number | undefined
  /** The per-attempt timeout, in milliseconds. Default: 60 s (fleet tests use slow endpoints). */
  readonly attemptTimeoutMillis?: number | undefined
}

/** A command on stdin. */
export type Command =
  | { readonly cmd: "get" }
  | { readonly cmd: "refresh" }
  | { readonly cmd: "invalidate" }
  | { readonly cmd: "advance"; readonly millis: number }
  | { readonly cmd: "exit" }

/** The answer to a command. */
export type Answer =
  | {
    readonly type: "answer"
    readonly id: number
    readonly ok: true
    readonly tokenHash?: string | undefined
    readonly issuedAt?: string | undefined
    readonly expiresAt?: string | undefined
  }
  | { readonly type: "answer"; readonly id: number; readonly ok: false; readonly error: string }

/** A line on stdout. */
export type Output =
  | Answer
  | { readonly type: "ready"; readonly pid: number }
  | { readonly type: "log"; readonly level: string; readonly message: string }

/** What a worker prints for a token: a prefix of the SHA-256 of the access token. */
export const tokenHash = (accessToken: string): string =>
  crypto.createHash("sha256").update(accessToken).digest("hex").slice(0, 16)

/** The environment variable that carries the configuration. */
export const configVariable = "TOKENLAYER_FLEET_CONFIG"

const emit = (output: Output): void => void process.stdout.write(`${JSON.stringify(output)}\n`)

const storeLayer = (spec: StoreSpec): Layer.Layer<TokenStore.TokenStore> => {
  switch (spec.kind) {
    case "memory":
      return TokenStore.layerMemory
    case "file":
      return TokenStore.layerFile({
        directory: spec.directory,
        ...(spec.staleAfterMillis === undefined ? {} : { staleAfter: Duration.millis(spec.staleAfterMillis) })
      })
    case "redis":
      return RedisStore.layer({
        url: Redacted.make(spec.url),
        prefix: spec.prefix,
        ...(spec.leaseMillis === undefined ? {} : { lease: Duration.millis(spec.leaseMillis) })
      })
  }
}

/** The real clock, moved forward by `advance` commands. */
const makeClock = () => {
  const base = Clock.make()
  let offset = 0
  const millis = () => base.unsafeCurrentTimeMillis() + offset
  const nanos = () => base.unsafeCurrentTimeNanos() + BigInt(offset) * 1_000_000n
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: millis,
    currentTimeMillis: Effect.sync(millis),
    unsafeCurrentTimeNanos: nanos,
    currentTimeNanos: Effect.sync(nanos),
    sleep: (duration) => base.sleep(duration)
  }
  return { clock, advance: (by: number) => void (offset += by) }
}

const logger = Logger.make(({ logLevel, message }) => {
  const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
  emit({ type: "log", level: logLevel.label, message: text })
})

const main = (config: WorkerConfig) => {
  const { advance, clock } = makeClock()
  const TokenLive = TokenService.layer({
    ...(config.lockTimeoutMillis === undefined ? {} : { lockTimeout: Duration.millis(config.lockTimeoutMillis) }),
    ...(config.storeTimeoutMillis === undefined ? {} : { storeTimeout: Duration.millis(config.storeTimeoutMillis) })
  }).pipe(
    Layer.provide(
      config.subjectTokenFile === undefined
        ? Grant.clientCredentials({
          tokenUrl: config.tokenUrl,
          clientId: config.clientId ?? "fleet-client",
          clientSecret: Redacted.make(config.clientSecret ?? "fleet-secret")
        })
        : Grant.tokenExchange({
          tokenUrl: config.tokenUrl,
          clientId: config.clientId ?? "fleet-client",
          clientSecret: Redacted.make(config.clientSecret ?? "fleet-secret"),
          subject: TokenSource.file(config.subjectTokenFile, { tokenType: TokenSource.TokenType.accessToken }),
          audience: "fleet-api"
        })
    ),
    Layer.provide([
      RefreshPolicy.fixed(Duration.millis(config.refreshBufferMillis ?? 300_000)),
      RetryPolicy.layerWith({
        retries: config.retries ?? 2,
        baseDelay: "100 millis",
        attemptTimeout: Duration.millis(config.attemptTimeoutMillis ?? 60_000)
      }),
      storeLayer(config.store)
    ]),
    Layer.provide(NodeHttpClient.layerUndici)
  )

  const handle = (tokens: TokenService.Service, id: number, command: Command): Effect.Effect<void> => {
    const describe = (token: Token.Token): Answer => ({
      type: "answer",
      id,
      ok: true,
      tokenHash: tokenHash(Redacted.value(token.accessToken)),
      issuedAt: DateTime.formatIso(token.issuedAt),
      expiresAt: token.expiresAt === undefined ? undefined : DateTime.formatIso(token.expiresAt)
    })
    const run = (): Effect.Effect<Answer> => {
      switch (command.cmd) {
        case "get":
          return Effect.map(tokens.get, describe).pipe(
            Effect.catchAll((error) => Effect.succeed<Answer>({ type: "answer", id, ok: false, error: error.message }))
          )
        case "refresh":
          return Effect.map(tokens.refresh, describe).pipe(
            Effect.catchAll((error) => Effect.succeed<Answer>({ type: "answer", id, ok: false, error: error.message }))
          )
        case "invalidate":
          return Effect.as(tokens.invalidate(), { type: "answer", id, ok: true })
        case "advance":
          return Effect.sync(() => {
            advance(command.millis)
            return { type: "answer", id, ok: true }
          })
        case "exit":
          return Effect.sync(() => process.exit(0))
      }
    }
    return Effect.flatMap(run(), (answer) => Effect.sync(() => emit(answer)))
  }

  const program = Effect.gen(function*() {
    const tokens = yield* TokenService.TokenService
    // commands run in this fiber's runtime: its logger, log level and Clock
    const runtime = yield* Effect.runtime<never>()
    const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
    emit({ type: "ready", pid: process.pid })
    yield* Effect.async<void>((resume) => {
      lines.on("line", (line) => {
        if (line.trim() === "") return
        let parsed: { readonly id: number } & Command
        try {
          parsed = JSON.parse(line)
        } catch {
          emit({ type: "log", level: "ERROR", message: `bad command line: ${line}` })
          return
        }
        Runtime.runFork(runtime)(handle(tokens, parsed.id, parsed))
      })
      // the harness went away: so do we
      lines.on("close", () => resume(Effect.void))
    })
  })

  return program.pipe(
    Effect.provide(TokenLive),
    Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
    Logger.withMinimumLogLevel(LogLevel.Debug),
    Effect.withClock(clock)
  )
}

const raw = process.env[configVariable]
if (raw !== undefined) {
  Effect.runPromiseExit(main(JSON.parse(raw) as WorkerConfig)).then((exit) => {
    if (exit._tag === "Failure") {
      process.stderr.write(`fleet worker failed: ${String(exit.cause)}\n`)
      process.exit(1)
    }
    process.exit(0)
  })
}
