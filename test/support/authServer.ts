/**
 * What the tests of grants against the embedded `AuthServer` share (test/DeviceCode.test.ts,
 * test/Discovery.test.ts, test/RefreshToken.test.ts): a token service over a grant, what the server's
 * protected API answers to a token, reading a grant's options from an environment, and raw requests to
 * the token endpoint (test/AuthServer.test.ts, test/AuthServerExchange.test.ts).
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type { Config } from "effect"
import { ConfigProvider, Effect, Layer, Redacted } from "effect"
import { ClientAuth, Grant, RefreshPolicy, RetryPolicy, Token, TokenService, TokenStore } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"

/** A token service over a grant: renewed 1 minute before expiry, the default retry policy, `store`. */
export const serviceFor = (
  grant: Grant.Service,
  store: Layer.Layer<TokenStore.TokenStore> = TokenStore.layerMemory
) =>
  TokenService.make().pipe(
    Effect.provideService(Grant.Grant, grant),
    Effect.provide(Layer.mergeAll(RefreshPolicy.fixed("1 minute"), RetryPolicy.layerDefault, store))
  )

/** What the protected API of the server in context (`/me`) answers to a token. */
export const apiStatus = (token: Token.Token) =>
  Effect.gen(function*() {
    const s = yield* AuthServer.AuthServer
    const response = yield* HttpClient.get(s.apiUrl("me"), {
      headers: { authorization: Token.authorizationHeader(token) }
    })
    return response.status
  }).pipe(Effect.scoped, Effect.orDie)

/** Reads `config` from `env`, a flat map whose keys nest with `_` (`CLI_CLIENT_ID`), as environment variables do. */
export const readConfig = <A>(config: Config.Config<A>, env: Record<string, string>) =>
  Effect.withConfigProvider(config, ConfigProvider.fromMap(new Map(Object.entries(env)), { pathDelim: "_" }))

/** An answer as it came over the wire. */
export interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly text: string
  readonly json: unknown
}

/** Sends a request and reads the whole answer (JSON when it is JSON). */
export const send = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.gen(function*() {
    const response = yield* HttpClient.execute(request)
    const text = yield* response.text
    let json: unknown = undefined
    try {
      json = JSON.parse(text)
    } catch {
      // not JSON
    }
    return { status: response.status, headers: response.headers, text, json } satisfies Answer
  }).pipe(Effect.scoped, Effect.orDie)

/** The value of an HTTP Basic `Authorization` header for a client (RFC 6749 §2.3.1 encoding). */
export const basicHeader = (id: string, secret: string) =>
  Redacted.value(ClientAuth.basicAuthorization(id, Redacted.make(secret)))

const formBody = (form: Record<string, string> | ReadonlyArray<readonly [string, string]>): string => {
  const body = new URLSearchParams()
  for (const [name, value] of isPairs(form) ? form : Object.entries(form)) body.append(name, value)
  return body.toString()
}

const isPairs = (
  form: Record<string, string> | ReadonlyArray<readonly [string, string]>
): form is ReadonlyArray<readonly [string, string]> => Array.isArray(form)

/**
 * A raw token request to the server in context: form parameters (a list of pairs for repeated ones)
 * and headers exactly as given.
 */
export const tokenRequest = (
  form: Record<string, string> | ReadonlyArray<readonly [string, string]>,
  headers: Record<string, string> = {}
) =>
  Effect.flatMap(AuthServer.AuthServer, (s) =>
    send(
      HttpClientRequest.post(s.tokenUrl).pipe(
        HttpClientRequest.bodyText(formBody(form), "application/x-www-form-urlencoded"),
        HttpClientRequest.setHeaders(headers)
      )
    ))
