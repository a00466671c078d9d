/**
 * What the `tokenlayer` command writes: results on stdout, everything else on stderr, one line per
 * message, prefixed `tokenlayer:`. With `--verbose`, the trace of every HTTP request (method, URL
 * without query, the form's parameter names with the values of the harmless ones, status, time) and the
 * library's debug log; never a secret, a token or a body.
 *
 * @since 0.1.0
 */
import type * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { displayUrl } from "../Grant.js"
import { oneLine } from "./Errors.js"
import * as Sanitize from "./Sanitize.js"

/**
 * Writes a result on stdout, each line escaped (`Sanitize.escapeLines`): nothing the command prints on
 * stdout holds a control character. A token or a header is checked before (escaping would change it).
 *
 * @since 0.1.0
 * @category output
 */
export const out = (text: string): Effect.Effect<void> =>
  Effect.sync(() => {
    const lines = text.endsWith("\n") ? text.slice(0, -1) : text
    process.stdout.write(`${Sanitize.escapeLines(lines)}\n`)
  })

/**
 * Writes a message on stderr: `tokenlayer: <text>`, escaped (`Sanitize.escape`): one line, whatever
 * part of it came from a server, a file or the command line.
 *
 * @since 0.1.0
 * @category output
 */
export const err = (text: string): Effect.Effect<void> =>
  Effect.sync(() => {
    process.stderr.write(`tokenlayer: ${Sanitize.escape(text)}\n`)
  })

/**
 * Writes raw text on stderr: the command's own drawing only (the QR code, the countdown), never text
 * from outside.
 *
 * @since 0.1.0
 * @category output
 */
export const errRaw = (text: string): Effect.Effect<void> =>
  Effect.sync(() => {
    process.stderr.write(text)
  })

/**
 * Whether stderr is a terminal (a person is watching): the QR code and the live countdown are drawn
 * only then.
 *
 * @since 0.1.0
 * @category output
 */
export const stderrIsTerminal = (): boolean => process.stderr.isTTY === true

const render = (message: unknown): string =>
  Array.isArray(message) ? message.map((m) => typeof m === "string" ? m : String(m)).join(" ") : String(message)

/**
 * The logger of the command: one line on stderr per entry, with its annotations (the library's own
 * carry no secret), except the grant key. Which levels are shown is `withVerbosity`'s business.
 *
 * @since 0.1.0
 * @category logging
 */
export const layerLogger: Layer.Layer<never> = Layer.merge(
  Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ annotations, logLevel, message }) => {
      const level = LogLevel.greaterThanEqual(logLevel, LogLevel.Warning) ? `${logLevel.label.toLowerCase()}: ` : ""
      const extra: Array<string> = []
      for (const [key, value] of HashMap.toEntries(annotations)) {
        if (key === "tokenlayer.key") continue
        extra.push(`${key.replace(/^tokenlayer\./, "")}=${typeof value === "string" ? value : JSON.stringify(value)}`)
      }
      const text = `${render(message)}${extra.length === 0 ? "" : ` (${extra.join(", ")})`}`
      process.stderr.write(`tokenlayer: ${level}${oneLine(text, 1000)}\n`)
    })
  ),
  Logger.minimumLogLevel(LogLevel.Warning)
)

/**
 * Shows warnings and errors; with `verbose`, the request trace and the library's debug lines too.
 *
 * @since 0.1.0
 * @category logging
 */
export const withVerbosity = (verbose: boolean) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Logger.withMinimumLogLevel(effect, verbose ? LogLevel.Debug : LogLevel.Warning)

/** Form parameters whose values may be shown; every other value is `<redacted>`. */
const shownParams: ReadonlySet<string> = new Set([
  "grant_type",
  "scope",
  "audience",
  "resource",
  "client_id",
  "client_assertion_type",
  "token_type_hint"
])

const describeBody = (body: HttpBody.HttpBody): string => {
  if (body._tag !== "Uint8Array" || !body.contentType.startsWith("application/x-www-form-urlencoded")) return ""
  const params = new URLSearchParams(new TextDecoder().decode(body.body))
  const parts: Array<string> = []
  for (const [name, value] of params) {
    parts.push(shownParams.has(name) ? `${name}=${value}` : `${name}=<redacted>`)
  }
  return parts.length === 0 ? "" : ` ${oneLine(parts.join("&"), 400)}`
}

/**
 * An `HttpClient` that logs each request and its answer at debug level (shown with `--verbose`).
 *
 * @since 0.1.0
 * @category logging
 */
export const traced = (client: HttpClient.HttpClient): HttpClient.HttpClient =>
  HttpClient.transform(client, (effect, request) =>
    Effect.gen(function*() {
      const url = displayUrl(request.url)
      const authorization = request.headers["authorization"] === undefined ? "" : " (authorization: <redacted>)"
      yield* Effect.logDebug(`request: ${request.method} ${url}${describeBody(request.body)}${authorization}`)
      const started = yield* Clock.currentTimeMillis
      const exit = yield* Effect.exit(effect)
      const took = (yield* Clock.currentTimeMillis) - started
      if (Exit.isSuccess(exit)) {
        const type = exit.value.headers["content-type"]
        yield* Effect.logDebug(
          `answer: ${exit.value.status} from ${request.method} ${url} in ${took} ms${
            type === undefined ? "" : ` (${oneLine(type, 80)})`
          }`
        )
      } else {
        yield* Effect.logDebug(`no answer from ${request.method} ${url} after ${took} ms`)
      }
      return yield* exit
    }))

// -----------------------------------------------------------------------------
// times and durations
// -----------------------------------------------------------------------------

/**
 * A duration for people: `1h 5m`, `4m 12s`, `12s`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatDuration = (millis: number): string => {
  let seconds = Math.max(0, Math.round(millis / 1000))
  const days = Math.floor(seconds / 86_400)
  seconds -= days * 86_400
  const hours = Math.floor(seconds / 3600)
  seconds -= hours * 3600
  const minutes = Math.floor(seconds / 60)
  seconds -= minutes * 60
  if (days > 0) return hours > 0 ? `${days}d ${hours}h` : `${days}d`
  if (hours > 0) return minutes > 0 ? `${hours}h ${minutes}m` : `${hours}h`
  if (minutes > 0) return seconds > 0 ? `${minutes}m ${seconds}s` : `${minutes}m`
  return `${seconds}s`
}

/**
 * `m:ss` (or `h:mm:ss`) for a countdown.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatClock = (millis: number): string => {
  const total = Math.max(0, Math.ceil(millis / 1000))
  const hours = Math.floor(total / 3600)
  const minutes = Math.floor((total % 3600) / 60)
  const seconds = total % 60
  const ss = String(seconds).padStart(2, "0")
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, "0")}:${ss}` : `${minutes}:${ss}`
}

/**
 * A bar of `width` cells, the first `fraction` of them full: `[██████░░░░]`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const bar = (fraction: number, width = 24): string => {
  const clamped = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0))
  const full = Math.round(clamped * width)
  return `[${"█".repeat(full)}${"░".repeat(width - full)}]`
}
