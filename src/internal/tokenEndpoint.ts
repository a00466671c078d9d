/**
 * The one place where tokenlayer talks to a token endpoint: build the form request, send it over the
 * `HttpClient` it is given, and turn what comes back into a `Token` or an `HttpError`. Foreign errors
 * (`HttpClientError`, `ParseError`) are mapped here and nowhere else.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as ClientAuth from "../ClientAuth.js"
import * as Token from "../Token.js"
import { HttpError } from "../TokenError.js"

/** @internal */
export type Param = readonly [string, string | Redacted.Redacted<string>]

/** @internal */
export interface TokenRequest {
  readonly url: string
  readonly params: ReadonlyArray<Param>
  readonly headers: ReadonlyArray<readonly [string, Redacted.Redacted<string>]>
}

/**
 * Form parameters from options, leaving out those that were not given (no empty `scope=`).
 *
 * @internal
 */
export const params = (
  entries: ReadonlyArray<readonly [string, string | ReadonlyArray<string> | undefined]>
): Array<Param> => {
  const out: Array<Param> = []
  for (const [name, value] of entries) {
    if (value === undefined) continue
    if (typeof value === "string") {
      if (value !== "") out.push([name, value])
    } else {
      for (const v of value) if (v !== "") out.push([name, v])
    }
  }
  return out
}

/**
 * A `scope` option (space-separated, or a list) as the one string the form sends.
 *
 * @internal
 */
export const scopeString = (scope: string | ReadonlyArray<string> | undefined): string | undefined =>
  scope === undefined ? undefined : typeof scope === "string" ? scope.trim() : scope.join(" ").trim()

/**
 * A token request authenticated by a client authentication method.
 *
 * @internal
 */
export const authenticated = (
  auth: ClientAuth.ClientAuth,
  context: ClientAuth.Context,
  grantParams: ReadonlyArray<Param>
): Effect.Effect<TokenRequest> =>
  Effect.map(auth.authenticate(context), (credentials) => ({
    url: context.tokenUrl,
    params: [...grantParams, ...credentials.params],
    headers: credentials.headers
  }))

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
const decodeErrorBody = Schema.decodeUnknownOption(ErrorBody)

/** @internal */
export const parseJson = (text: string): Option.Option<unknown> => {
  try {
    return Option.some(JSON.parse(text))
  } catch {
    return Option.none()
  }
}

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
        error: b.error,
        ...(b.error_description === undefined ? {} : { errorDescription: b.error_description }),
        ...(b.error_uri === undefined ? {} : { errorUri: b.error_uri })
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
 * One exchange with an authorization server's endpoint (token, device authorization, metadata): the
 * body of a 2xx answer, or an `HttpError` of reason `Transport` (no readable answer) or `Status` (any
 * other status, with its RFC 6749 §5.2 error body and `Retry-After`). `url` is the URL as errors show it.
 *
 * @internal
 */
export const exchange = (
  client: HttpClient.HttpClient,
  request: HttpClientRequest.HttpClientRequest,
  url: string
): Effect.Effect<Answer, HttpError> =>
  client.execute(request).pipe(
    Effect.mapError((error) => transportError(url, error)),
    Effect.flatMap((response) =>
      Effect.gen(function*() {
        const text = yield* Effect.mapError(response.text, (error) => transportError(url, error))
        const now = yield* DateTime.now
        const json = parseJson(text)
        if (response.status < 200 || response.status >= 300) {
          return yield* Effect.fail(statusError(url, response, json, now))
        }
        return { response, json, now }
      })
    ),
    Effect.scoped
  )

/** Turns a token endpoint's 2xx answer into a `Token` (RFC 6749 §5.1) or an `HttpError` (§5.2). */
const toToken = (url: string, { json, now, response }: Answer): Effect.Effect<Token.Token, HttpError> => {
  if (Option.isNone(json)) {
    const contentType = response.headers["content-type"] ?? "none"
    return Effect.fail(
      new HttpError({
        reason: "Decode",
        url,
        status: response.status,
        detail: `token response is not JSON (content-type: ${contentType.slice(0, 100)})`
      })
    )
  }
  // some servers answer 200 with an RFC 6749 error body
  const errorBody = decodeErrorBody(json.value)
  if (
    Option.isSome(errorBody) &&
    !(typeof json.value === "object" && json.value !== null && "access_token" in json.value)
  ) {
    return Effect.fail(statusError(url, response, json, now))
  }
  return Schema.decodeUnknown(Token.TokenResponse)(json.value).pipe(
    Effect.map((body) => Token.fromResponse(body, now)),
    Effect.mapError((error) =>
      new HttpError({
        reason: "Decode",
        url,
        status: response.status,
        detail: `not an RFC 6749 token response: ${Token.describeParseError(error)}`
      })
    )
  )
}

/**
 * A URL as errors and logs show it: without user, password, query or fragment, which may hold secrets.
 *
 * @internal
 */
export const displayUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    parsed.username = ""
    parsed.password = ""
    parsed.search = ""
    parsed.hash = ""
    return parsed.toString()
  } catch {
    return "(invalid URL)"
  }
}

/**
 * Sends a token request over the given client and processes the answer.
 *
 * @internal
 */
export const sendWith = (
  client: HttpClient.HttpClient,
  request: TokenRequest
): Effect.Effect<Token.Token, HttpError> => {
  const url = displayUrl(request.url)
  return Effect.flatMap(exchange(client, toHttpRequest(request), url), (answer) => toToken(url, answer))
}
