/**
 * One exchange with an authorization server (token, device authorization, revocation, metadata
 * endpoints): the request put on the wire (secrets leave their `Redacted` here), the answer bounded,
 * redirects refused, and foreign errors (`HttpClientError`) mapped to `HttpError` here and nowhere else.
 *
 * @internal
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { HttpError } from "../TokenError.js"
import { maxJsonDepth, nestsDeeperThan, parseJson, serverText } from "./json.js"
import { displayUrl, hasSecretParts, originOf } from "./urls.js"

/** @internal */
export type Param = readonly [string, string | Redacted.Redacted<string>]

/** @internal */
export interface TokenRequest {
  readonly url: string
  readonly params: ReadonlyArray<Param>
  readonly headers: ReadonlyArray<readonly [string, Redacted.Redacted<string>]>
}

const reveal = (value: string | Redacted.Redacted<string>): string =>
  typeof value === "string" ? value : Redacted.value(value)

/**
 * The `HttpClientRequest` for a token request. Secrets leave their `Redacted` wrappers here, as the
 * request is put on the wire.
 *
 * @internal
 */
export const toHttpRequest = (request: TokenRequest): HttpClientRequest.HttpClientRequest => {
  const body = new URLSearchParams()
  for (const [name, value] of request.params) body.append(name, reveal(value))
  let http = HttpClientRequest.post(request.url).pipe(
    HttpClientRequest.acceptJson,
    HttpClientRequest.bodyText(body.toString(), "application/x-www-form-urlencoded")
  )
  for (const [name, value] of request.headers) http = HttpClientRequest.setHeader(http, name, Redacted.value(value))
  return http
}

/** What a caught low-level error says, without anything that could be a secret. */
const describeCause = (cause: unknown): string => {
  if (typeof cause === "object" && cause !== null) {
    const code = (cause as { readonly code?: unknown }).code
    if (typeof code === "string") return code
    const nested = (cause as { readonly cause?: unknown }).cause
    if (nested !== undefined && nested !== cause) return describeCause(nested)
    const message = (cause as { readonly message?: unknown }).message
    // a message may quote the URL: show it as errors show URLs (no credentials, no query)
    if (typeof message === "string") return message.slice(0, 200).replace(/[a-z][a-z0-9+.-]*:\/\/\S+/gi, displayUrl)
  }
  return "unknown cause"
}

/**
 * An `HttpError` of reason `Transport` for a request that got no (readable) answer.
 *
 * @internal
 */
export const transportError = (url: string, error: HttpClientError.HttpClientError): HttpError =>
  new HttpError({
    reason: "Transport",
    url,
    detail: `${transportStage[error._tag === "RequestError" ? error.reason : "Body"]}: ${describeCause(error.cause)}`
  })

const transportStage = {
  Transport: "no answer",
  Encode: "the request could not be encoded",
  InvalidUrl: "invalid token URL",
  Body: "the response body could not be read"
} as const

/**
 * `Retry-After` as delta-seconds or an HTTP date (RFC 9110 §10.2.3), relative to the Clock.
 *
 * @internal
 */
export const parseRetryAfter = (value: string | undefined, now: DateTime.Utc): Duration.Duration | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Duration.seconds(Number(trimmed))
  const date = globalThis.Date.parse(trimmed)
  if (Number.isNaN(date)) return undefined
  return Duration.millis(Math.max(0, date - now.epochMillis))
}

const ErrorBody = Schema.Struct({
  error: Schema.String,
  error_description: Schema.optional(Schema.String),
  error_uri: Schema.optional(Schema.String)
})
/** @internal */
export const decodeErrorBody = Schema.decodeUnknownOption(ErrorBody)

/**
 * An `HttpError` of reason `Status` for a non-2xx answer (or a 2xx with an RFC 6749 §5.2 error body):
 * the status, the error code, description and URI when the body has them, and `Retry-After`.
 *
 * @internal
 */
export const statusError = (
  url: string,
  response: HttpClientResponse.HttpClientResponse,
  json: Option.Option<unknown>,
  now: DateTime.Utc
): HttpError => {
  const body = Option.flatMap(json, decodeErrorBody)
  const retryAfter = parseRetryAfter(response.headers["retry-after"], now)
  return new HttpError({
    reason: "Status",
    url,
    status: response.status,
    ...Option.match(body, {
      onNone: () => ({}),
      onSome: (b) => ({
        error: serverText(b.error),
        ...(b.error_description === undefined ? {} : { errorDescription: serverText(b.error_description) }),
        ...(b.error_uri === undefined ? {} : { errorUri: serverText(b.error_uri) })
      })
    }),
    ...(retryAfter === undefined ? {} : { retryAfter })
  })
}

/**
 * What a 2xx answer brought: its body parsed as JSON (`None` when it is not JSON), read at `now`.
 *
 * @internal
 */
export interface Answer {
  readonly response: HttpClientResponse.HttpClientResponse
  readonly json: Option.Option<unknown>
  readonly now: DateTime.Utc
}

/**
 * The most bytes of an authorization server's answer that are read: see `Grant.MaxResponseSize`.
 *
 * @internal
 */
export class MaxResponseSize extends Context.Reference<MaxResponseSize>()("tokenlayer/MaxResponseSize", {
  defaultValue: (): number => 1024 * 1024
}) {}

const sizeText = (bytes: number): string =>
  bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0
    ? `${bytes / (1024 * 1024)} MiB`
    : bytes >= 1024 && bytes % 1024 === 0
    ? `${bytes / 1024} KiB`
    : `${bytes} bytes`

const tooLarge = (url: string, status: number, limit: number): HttpError =>
  new HttpError({ reason: "Decode", url, status, detail: `response too large: more than ${sizeText(limit)}` })

/**
 * The body of a response as text, at most `limit` bytes of it (as the client hands them over: after
 * decompression): `None` beyond that, and the rest is never read (the stream is cancelled). A declared
 * `Content-Length` over the limit is refused before reading.
 */
const readBounded = (
  response: HttpClientResponse.HttpClientResponse,
  url: string,
  limit: number
): Effect.Effect<Option.Option<string>, HttpError> =>
  Effect.suspend(() => {
    const declared = Number(response.headers["content-length"])
    if (response.headers["content-encoding"] === undefined && declared > limit) return Effect.succeedNone
    const chunks: Array<Uint8Array> = []
    let total = 0
    let over = false
    return response.stream.pipe(
      Stream.takeWhile((chunk) => {
        total += chunk.length
        if (total > limit) over = true
        else chunks.push(chunk)
        return !over
      }),
      Stream.runDrain,
      Effect.mapError((error) => transportError(url, error)),
      Effect.map(() => {
        if (over) return Option.none()
        const bytes = new Uint8Array(total)
        let offset = 0
        for (const chunk of chunks) {
          bytes.set(chunk, offset)
          offset += chunk.length
        }
        return Option.some(new TextDecoder().decode(bytes))
      })
    )
  })

/** A 3xx: a token request is never sent anywhere else. */
const redirected = (url: string, response: HttpClientResponse.HttpClientResponse): HttpError => {
  const location = response.headers["location"]
  let where = "no Location"
  if (location !== undefined) {
    try {
      where = new URL(location, url.startsWith("(") ? undefined : url).origin
    } catch {
      where = "an invalid Location"
    }
  }
  return new HttpError({
    reason: "Status",
    url,
    status: response.status,
    detail: `redirected to ${serverText(where)}: requests to an authorization server never follow redirects`
  })
}

/**
 * The request's `fetch` options with `redirect: "manual"`, for a `FetchHttpClient` (which would follow
 * a redirect, and send the request's body, credentials included, wherever it points); other clients
 * (undici's, Node's) do not follow redirects.
 */
const noRedirects = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    Effect.serviceOption(FetchHttpClient.RequestInit),
    (init) =>
      Effect.provideService(effect, FetchHttpClient.RequestInit, {
        ...Option.getOrElse(init, () => ({})),
        redirect: "manual"
      })
  )

/**
 * One exchange with an authorization server's endpoint (token, device authorization, metadata): the
 * body of a 2xx answer, or an `HttpError` of reason `Transport` (no readable answer), `Status` (any
 * other status, with its RFC 6749 §5.2 error body and `Retry-After`; a redirect, which is never
 * followed) or `Decode` (a 2xx body larger than `MaxResponseSize`). `url` is the URL as errors show it.
 *
 * @internal
 */
export const exchange = (
  client: HttpClient.HttpClient,
  request: HttpClientRequest.HttpClientRequest,
  url: string
): Effect.Effect<Answer, HttpError> =>
  client.execute(request).pipe(
    noRedirects,
    // the platform's client span records the full URL, user, password and query included
    hasSecretParts(request.url) ? Effect.locally(HttpClient.currentTracerDisabledWhen, () => true) : identity,
    Effect.mapError((error) => transportError(url, error)),
    Effect.flatMap((response) =>
      Effect.gen(function*() {
        if (response.status >= 300 && response.status < 400) return yield* Effect.fail(redirected(url, response))
        // a client wrapped with `HttpClient.followRedirects` (or a dispatcher that follows) answers for
        // another URL: its token is not taken
        if (originOf(response.request.url) !== originOf(request.url)) {
          return yield* Effect.fail(
            new HttpError({
              reason: "Status",
              url,
              status: response.status,
              detail: `the answer came from ${
                serverText(originOf(response.request.url))
              }: a client that follows redirects must not be given to tokenlayer`
            })
          )
        }
        const limit = yield* MaxResponseSize
        const text = yield* readBounded(response, url, limit)
        const now = yield* DateTime.now
        const json = Option.flatMap(text, parseJson)
        if (response.status < 200 || response.status >= 300) {
          return yield* Effect.fail(statusError(url, response, json, now))
        }
        if (Option.isNone(text)) return yield* Effect.fail(tooLarge(url, response.status, limit))
        if (Option.isNone(json) && nestsDeeperThan(text.value, maxJsonDepth)) {
          return yield* Effect.fail(
            new HttpError({
              reason: "Decode",
              url,
              status: response.status,
              detail: `response nested deeper than ${maxJsonDepth} levels`
            })
          )
        }
        return { response, json, now }
      })
    ),
    Effect.scoped
  )
