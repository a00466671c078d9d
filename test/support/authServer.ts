/**
 * What the tests of grants against the embedded `AuthServer` share (test/DeviceCode.test.ts,
 * test/Discovery.test.ts, test/RefreshToken.test.ts): a token service over a grant, what the server's
 * protected API answers to a token, and reading a grant's options from an environment.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type { Config } from "effect"
import { ConfigProvider, Effect, Layer } from "effect"
import { Grant, RefreshPolicy, RetryPolicy, Token, TokenService, TokenStore } from "tokenlayer"
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
