/**
 * DPoP on the wire: the token endpoint's client (a proof on every POST, nonces kept from every
 * answer), the funnel's hook (one retry after `use_dpop_nonce`, the Bearer answer to a DPoP request),
 * and the API side (`Authorization: DPoP`, a proof with `ath`, one retry after a DPoP nonce challenge).
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Token from "../Token.js"
import { HttpError } from "../TokenError.js"
import type { Service } from "./dpop.js"
import { displayUrl } from "./urls.js"

const clients = new WeakMap<object, Service>()

/**
 * The client a grant sends its token requests over when a `DPoP` service is in context: every POST
 * (token, device authorization, revocation requests) gets a new proof; every answer's `DPoP-Nonce` is
 * kept for its origin.
 *
 * @internal
 */
export const tokenClient = (client: HttpClient.HttpClient, dpop: Service): HttpClient.HttpClient => {
  const wrapped = HttpClient.makeWith<never, never, HttpClientError.HttpClientError, never>(
    (request) =>
      Effect.flatMap(request, (request) => {
        const signed = request.method === "POST"
          ? Effect.map(
            dpop.proof({ method: request.method, url: request.url }),
            (proof) => HttpClientRequest.setHeader(request, "dpop", proof)
          )
          : Effect.succeed(request)
        return Effect.flatMap(signed, (request) =>
          Effect.tap(client.execute(request), (response) =>
            Effect.sync(() =>
              dpop.updateNonce(request.url, response.headers["dpop-nonce"])
            )))
      }),
    Effect.succeed
  )
  clients.set(wrapped, dpop)
  return wrapped
}

/** The `DPoP` service of a client made by `tokenClient`. @internal */
export const serviceOf = (client: HttpClient.HttpClient): Service | undefined => clients.get(client)

const isNonceError = (error: HttpError): boolean =>
  error.reason === "Status" && error.status === 400 && error.error === "use_dpop_nonce"

/**
 * The funnel's hook: a token request over a DPoP client is sent once more when the server answers
 * `use_dpop_nonce` with a new nonce (never twice: a second such answer is the error, with a detail that
 * says so); a Bearer token answered to it is used with a warning, or refused when binding is required.
 *
 * @internal
 */
export const tokenRequest = (
  client: HttpClient.HttpClient,
  targetUrl: string,
  once: Effect.Effect<Token.Token, HttpError>
): Effect.Effect<Token.Token, HttpError> => {
  const dpop = serviceOf(client)
  if (dpop === undefined) return once
  return Effect.suspend(() => {
    const sent = dpop.nonce(targetUrl)
    return Effect.catchIf(once, isNonceError, (error) => {
      const fresh = dpop.nonce(targetUrl)
      if (fresh === undefined || fresh === sent) {
        return Effect.fail(
          new HttpError({
            ...error,
            detail: "the server asked for a DPoP nonce (use_dpop_nonce) without giving a new valid DPoP-Nonce header"
          })
        )
      }
      return Effect.mapError(once, (again) =>
        isNonceError(again)
          ? new HttpError({
            ...again,
            detail: "the server asked for a new DPoP nonce again after a retry with its nonce: not retried again"
          })
          : again)
    })
  }).pipe(Effect.flatMap((token) => {
    if (token.tokenType === "DPoP") return Effect.succeed(token)
    if (dpop.requireBinding) {
      return Effect.fail(
        new HttpError({
          reason: "Decode",
          url: displayUrl(targetUrl),
          detail:
            `asked for a DPoP-bound token and the server answered token_type ${token.tokenType}: refused (requireBinding)`
        })
      )
    }
    return Effect.as(
      Effect.logWarning(
        `tokenlayer: asked for a DPoP-bound token and ${
          displayUrl(targetUrl)
        } answered token_type ${token.tokenType}: it is sent as it is, without proofs`
      ),
      token
    )
  }))
}

const tokenChar = /[A-Za-z0-9!#$%&'*+.^_`|~-]/

/**
 * The parameters of the `scheme` challenge of a `WWW-Authenticate` header (RFC 9110 §11.6.1), or
 * `undefined` when it has none. Bounded: a header over 8 KiB is not read.
 *
 * @internal
 */
export const challenge = (header: string | undefined, scheme: string): Map<string, string> | undefined => {
  if (header === undefined || header.length > 8192) return undefined
  let i = 0
  let current: Map<string, string> | undefined
  let found: Map<string, string> | undefined
  const n = header.length
  const skip = () => {
    while (i < n && (header[i] === " " || header[i] === "\t" || header[i] === ",")) i++
  }
  const token = () => {
    const start = i
    while (i < n && tokenChar.test(header[i]!)) i++
    return header.slice(start, i)
  }
  while (i < n) {
    skip()
    const name = token()
    if (name === "") {
      i++
      continue
    }
    let j = i
    while (j < n && (header[j] === " " || header[j] === "\t")) j++
    if (header[j] === "=" && current !== undefined) {
      i = j + 1
      while (i < n && (header[i] === " " || header[i] === "\t")) i++
      let value = ""
      if (header[i] === "\"") {
        i++
        while (i < n && header[i] !== "\"") {
          if (header[i] === "\\" && i + 1 < n) i++
          value += header[i]
          i++
        }
        i++
      } else {
        value = token()
      }
      current.set(name.toLowerCase(), value)
    } else {
      current = new Map()
      if (name.toLowerCase() === scheme.toLowerCase() && found === undefined) found = current
    }
  }
  return found
}

const isNonceChallenge = (response: HttpClientResponse.HttpClientResponse): boolean =>
  response.status === 401 && challenge(response.headers["www-authenticate"], "DPoP")?.get("error") === "use_dpop_nonce"

const discard = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<void> =>
  response.arrayBuffer.pipe(Effect.timeout("5 seconds"), Effect.ignore, Effect.forkDaemon, Effect.asVoid)

/**
 * Sends `request` with `token`: a Bearer token (any type but DPoP) as `Authorization: <type> <token>`;
 * a DPoP token as `Authorization: DPoP <token>` with a new proof (with `ath`), sent once more after a
 * 401 DPoP `use_dpop_nonce` challenge that brought a new nonce (a second one fails: the server loops).
 * A DPoP token without a `DPoP` service fails: it would be refused without a proof.
 *
 * @internal
 */
export const authorized = <E, R>(
  client: HttpClient.HttpClient.With<E, R>,
  request: HttpClientRequest.HttpClientRequest,
  token: Token.Token,
  dpop: Service | undefined,
  replayable: boolean
): Effect.Effect<HttpClientResponse.HttpClientResponse, E | HttpError, R> => {
  if (token.tokenType !== "DPoP") {
    return client.execute(
      HttpClientRequest.setHeader(request, "authorization", `${token.tokenType} ${Redacted.value(token.accessToken)}`)
    )
  }
  if (dpop === undefined) {
    return Effect.fail(
      new HttpError({
        reason: "Decode",
        url: displayUrl(request.url),
        detail: "the token is a DPoP token (RFC 9449) and no DPoP service was provided: it is not sent without a proof"
      })
    )
  }
  const send = Effect.suspend(() => {
    const sent = dpop.nonce(request.url)
    return Effect.flatMap(
      dpop.proof({ method: request.method, url: request.url, accessToken: token.accessToken }),
      (proof) =>
        client.execute(
          request.pipe(
            HttpClientRequest.setHeader("authorization", `DPoP ${Redacted.value(token.accessToken)}`),
            HttpClientRequest.setHeader("dpop", proof)
          )
        ).pipe(Effect.map((response) => {
          const updated = dpop.updateNonce(request.url, response.headers["dpop-nonce"])
          return { response, fresh: updated && dpop.nonce(request.url) !== sent }
        }))
    )
  })
  return Effect.flatMap(send, ({ fresh, response }) => {
    if (!isNonceChallenge(response) || !fresh || !replayable) return Effect.succeed(response)
    return Effect.zipRight(
      discard(response),
      Effect.flatMap(send, ({ response: again }) =>
        isNonceChallenge(again)
          ? Effect.zipRight(
            discard(again),
            Effect.fail(
              new HttpError({
                reason: "Status",
                url: displayUrl(request.url),
                status: 401,
                error: "use_dpop_nonce",
                detail: "the API asked for a new DPoP nonce again after a retry with its nonce: not retried again"
              })
            )
          )
          : Effect.succeed(again))
    )
  })
}
