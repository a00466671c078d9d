/**
 * The funnel: the one way to a token endpoint. `grantRequest(http, endpoint, grantType, params)`
 * reads the endpoint's URL (given, or from the issuer's metadata), authenticates the client, sends
 * the form over `exchange` (bounded, no redirects, errors mapped), and checks the answer before a
 * `Token` exists. Every grant is its form parameters plus its key on top of this.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as ClientAuth from "../ClientAuth.js"
import * as Token from "../Token.js"
import { HttpError } from "../TokenError.js"
import * as DPoPHttp from "./dpopHttp.js"
import * as Endpoint from "./endpoint.js"
import type { Answer, Param, TokenRequest } from "./exchange.js"
import { decodeErrorBody, exchange, statusError, toHttpRequest } from "./exchange.js"
import { serverText } from "./json.js"
import { displayUrl } from "./urls.js"

// what the command's modules import from here (they move to the public API)
export {
  /** @internal */
  exchange,
  /** @internal */
  type Param,
  /** @internal */
  toHttpRequest,
  /** @internal */
  type TokenRequest
} from "./exchange.js"
export {
  /** @internal */
  displayUrl
} from "./urls.js"

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
 * A request authenticated by a client authentication method (token, device authorization and
 * revocation requests alike). A method that cannot authenticate (an empty secret: see
 * `ClientAuth.problem`) fails here, nothing sent.
 *
 * @internal
 */
export const authenticated = (
  auth: ClientAuth.ClientAuth,
  context: ClientAuth.Context,
  grantParams: ReadonlyArray<Param>
): Effect.Effect<TokenRequest, HttpError> =>
  auth.problem !== undefined
    ? Effect.fail(
      new HttpError({
        reason: "Decode",
        url: displayUrl(context.tokenUrl),
        detail: `the client cannot authenticate: ${auth.problem}; nothing was sent`
      })
    )
    : Effect.map(auth.authenticate(context), (credentials) => ({
      url: context.tokenUrl,
      params: [...grantParams, ...credentials.params],
      headers: credentials.headers
    }))

/**
 * The request of `params` to `url`, authenticated by the endpoint's client when it has one (a JWT
 * client assertion is signed anew for every request, so a retry never replays its `jti`).
 *
 * @internal
 */
export const request = (
  endpoint: Endpoint.Endpoint,
  tokenUrl: string,
  params: ReadonlyArray<Param>,
  url: string = tokenUrl
): Effect.Effect<TokenRequest, HttpError> =>
  endpoint.auth === undefined || endpoint.clientId === undefined
    ? Effect.succeed({ url, params, headers: [] })
    : Effect.map(
      authenticated(endpoint.auth, { clientId: endpoint.clientId, tokenUrl }, params),
      (r) => ({ ...r, url })
    )

/**
 * The funnel every grant goes through: one token request of `grant_type` `grantType` with `params`,
 * authenticated by the endpoint's client, sent over `http`, the answer bounded, checked and parsed,
 * and any failure an `HttpError`.
 *
 * @internal
 */
export const grantRequest = (
  http: HttpClient.HttpClient,
  endpoint: Endpoint.Endpoint,
  grantType: string,
  params: ReadonlyArray<Param>
): Effect.Effect<Token.Token, HttpError> =>
  Effect.flatMap(Endpoint.tokenUrl(endpoint), (tokenUrl) =>
    Effect.flatMap(
      request(endpoint, tokenUrl, [["grant_type", grantType], ...params]),
      (r) => sendWith(Endpoint.httpClientOf(endpoint, http), r)
    ))

/** Turns a token endpoint's 2xx answer into a `Token` (RFC 6749 §5.1) or an `HttpError` (§5.2). */
const toToken = (url: string, { json, now, response }: Answer): Effect.Effect<Token.Token, HttpError> => {
  if (Option.isNone(json)) {
    const contentType = response.headers["content-type"] ?? "none"
    return Effect.fail(
      new HttpError({
        reason: "Decode",
        url,
        status: response.status,
        detail: `token response is not JSON (content-type: ${serverText(contentType.slice(0, 100))})`
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
 * Sends a token request over the given client and processes the answer.
 *
 * @internal
 */
export const sendWith = (
  client: HttpClient.HttpClient,
  request: TokenRequest
): Effect.Effect<Token.Token, HttpError> => {
  const url = displayUrl(request.url)
  const once = Effect.flatMap(exchange(client, toHttpRequest(request), url), (answer) => toToken(url, answer))
  // DPoP (RFC 9449): one retry after use_dpop_nonce, the Bearer answer to a DPoP request
  return DPoPHttp.tokenRequest(client, request.url, once)
}
