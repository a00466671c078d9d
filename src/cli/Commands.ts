/**
 * The `tokenlayer` command: the command line parsed against `Specs`, then the command run, each loaded
 * only when it runs (`import()`), so that `--version`, `--help` and a bad command line load nothing of
 * HTTP, JWT or QR codes:
 *
 * - `token`: prints the access token, and nothing else;
 * - `header`: prints `Authorization: Bearer <token>`;
 * - `status`: the cached token's profile, grant, scope, times and remaining lifetime (never the token);
 * - `login`: the device flow (or, for other grants, a new token now), saved in the token store;
 * - `logout`: deletes the cached token and revokes it where the server can (RFC 7009);
 * - `profile add | list | remove`: the profiles of the config file;
 * - `dev-server`: a local authorization server (`AuthServer`) to try the others with.
 *
 * Tokens live in `TokenStore.layerFile` (one 0600 file per grant in a 0700 directory): a second
 * `tokenlayer token` within the token's life makes no request, and many shells calling at once on a cold
 * cache make one (the store's lock).
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Args from "./Args.js"
import * as Errors from "./Errors.js"
import * as Interpret from "./Interpret.js"
import * as Output from "./Output.js"
import * as Profiles from "./Profiles.js"
import * as Values from "./Values.js"

export type {
  /**
   * @since 0.1.0
   * @category models
   */
  StatusReport
} from "./commands/status.js"

export {
  /**
   * The version the command reports (`tokenlayer --version`).
   *
   * @since 0.1.0
   * @category constants
   */
  version
} from "./Version.js"

/** What a command does with its parsed command line. */
type Handler = (
  parsed: Args.Parsed
) => Effect.Effect<void, Errors.CliError, FileSystem.FileSystem | HttpClient.HttpClient>

/** Each command's handler, loaded when it runs. */
const handlers: Readonly<Record<string, () => Promise<Handler>>> = {
  token: () => import("./commands/token.js").then((m) => m.token),
  header: () => import("./commands/token.js").then((m) => m.header),
  status: () => import("./commands/status.js").then((m) => m.status),
  login: () => import("./commands/login.js").then((m) => m.login),
  logout: () => import("./commands/logout.js").then((m) => m.logout),
  "profile add": () => import("./commands/profile.js").then((m) => m.add),
  "profile list": () => import("./commands/profile.js").then((m) => m.list),
  "profile remove": () => import("./commands/profile.js").then((m) => m.remove),
  "dev-server": () => import("./commands/devServer.js").then((m) => m.devServer)
}

/** A Clock shifted by `offset` milliseconds (`TOKENLAYER_CLOCK_OFFSET`): what the command would do later. */
const shiftedClock = (offset: number): Clock.Clock => {
  const base = Clock.make()
  const nanos = BigInt(Math.round(offset)) * 1_000_000n
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => base.unsafeCurrentTimeMillis() + offset,
    currentTimeMillis: Effect.sync(() => base.unsafeCurrentTimeMillis() + offset),
    unsafeCurrentTimeNanos: () => base.unsafeCurrentTimeNanos() + nanos,
    currentTimeNanos: Effect.sync(() => base.unsafeCurrentTimeNanos() + nanos),
    sleep: (duration: Duration.Duration) => base.sleep(duration)
  }
}

const clockOffset: Effect.Effect<number, Errors.CliError> = Effect.flatMap(
  Profiles.env("TOKENLAYER_CLOCK_OFFSET"),
  (value) => {
    if (Option.isNone(value)) return Effect.succeed(0)
    const millis = Values.parseDuration(value.value, true)
    return Option.isNone(millis)
      ? Effect.fail(Errors.config("TOKENLAYER_CLOCK_OFFSET is not a duration: write 55m or -10s, or unset it"))
      : Effect.succeed(millis.value)
  }
)

/** `--timeout`, else `TOKENLAYER_TIMEOUT`: how long the whole command may take, if bounded. */
const timeoutOf = (parsed: Args.Parsed): Effect.Effect<Option.Option<number>, Errors.CliError> =>
  Effect.gen(function*() {
    const flag = parsed.values.timeout
    const given: Option.Option<readonly [string, string]> = typeof flag === "string"
      ? Option.some([flag, "--timeout"])
      : Option.map(yield* Profiles.env("TOKENLAYER_TIMEOUT"), (value) => [value, "TOKENLAYER_TIMEOUT"])
    if (Option.isNone(given)) return Option.none()
    const [text, origin] = given.value
    const millis = text.length > 64 ? Option.none() : Values.parseDuration(text)
    if (Option.isNone(millis) || millis.value <= 0) {
      return yield* Effect.fail(
        Errors.usage(`${origin} ${Errors.oneLine(text, 60)} is not a duration: write 10s, 1m or 90s`)
      )
    }
    return Option.some(millis.value)
  })

/** Runs a parsed command: its handler, loaded now, with the clock offset, the timeout and the verbosity. */
const runCommand = (spec: Args.Spec, parsed: Args.Parsed) =>
  Effect.gen(function*() {
    const offset = yield* clockOffset
    const timeout = yield* timeoutOf(parsed)
    const handler = yield* Effect.promise(handlers[spec.path]!)
    let effect = handler(parsed).pipe(Output.withVerbosity(parsed.values.verbose === true))
    if (Option.isSome(timeout)) {
      const limit = Duration.millis(timeout.value)
      effect = Effect.timeoutFail(effect, {
        duration: limit,
        onTimeout: () =>
          new Errors.CliError({
            kind: "unavailable",
            text: `tokenlayer ${spec.path} did not finish within ${
              Output.formatDuration(timeout.value)
            } (--timeout): the authorization server may be down or slow; try again later`
          })
      })
    }
    return yield* offset === 0 ? effect : Effect.withClock(effect, shiftedClock(offset))
  })

/**
 * Runs the command on `argv` (`process.argv`) and answers its exit code. Never fails: every failure is a
 * one-line message on stderr and its code (see `Errors.ExitCode`).
 *
 * @since 0.1.0
 * @category running
 */
export const run = (
  argv: ReadonlyArray<string>
): Effect.Effect<number, never, HttpClient.HttpClient | FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const request = Interpret.interpret(argv.slice(2))
    if (request._tag === "Print") {
      yield* Effect.sync(() => (request.code === 0 ? process.stdout : process.stderr).write(`${request.text}\n`))
      return request.code
    }
    const exit = yield* Effect.exit(
      request._tag === "Fail" ? Effect.fail(request.error) : runCommand(request.spec, request.parsed)
    )
    if (Exit.isSuccess(exit)) return Errors.ExitCode.success
    const failure = Cause.failureOption(exit.cause)
    if (Option.isSome(failure)) {
      yield* Output.err(failure.value.text)
      return failure.value.exitCode
    }
    if (Cause.isInterruptedOnly(exit.cause)) return 130
    const defect = Cause.squash(exit.cause)
    const name = defect instanceof Error ? defect.name : typeof defect
    yield* Output.err(`unexpected failure (${name}); run again with --verbose, and report it if it persists`)
    return Errors.ExitCode.unexpected
  }).pipe(Effect.provide(Output.layerLogger))
