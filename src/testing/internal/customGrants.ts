/**
 * Grant types a test registers on the embedded `AuthServer` (`Options.grantTypes`): each becomes an
 * entry of the token endpoint's grant table, so it is authenticated, counted, fault-injected and listed
 * in the discovery document like the built-in grants.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as AuthServer from "../AuthServer.js"
import { grantedScope, OAuthError, param } from "./oauthBase.js"
import type * as OAuth from "./oauthServer.js"

/** @internal */
export interface Options {
  readonly lookup: (clientId: string) => OAuth.Client | undefined
  /** The lifetime of tokens issued to a client the server does not know. */
  readonly defaultLifetime: Duration.Duration
}

/** @internal */
export const handler = (grant: AuthServer.CustomGrantType, options: Options): OAuth.GrantHandler => ({
  grantType: grant.grantType,
  handle: (context) =>
    Effect.gen(function*() {
      const mode = grant.clientAuthentication ?? "required"
      const client = mode === "required" || (mode === "optional" && context.claimsClient)
        ? yield* context.authenticateClient
        : undefined
      const result = grant.handle({
        grantType: grant.grantType,
        client: client === undefined ? undefined : { id: client.id, scopes: client.scopes },
        form: new URLSearchParams(context.request.form),
        headers: { ...context.request.headers }
      })
      const answer = Effect.isEffect(result) ? yield* result : result
      if (answer._tag === "Refuse") {
        return yield* Effect.fail(
          new OAuthError({
            status: answer.status ?? 400,
            error: answer.error,
            description: answer.description ?? answer.error
          })
        )
      }
      const id = answer.clientId ?? client?.id
      if (id === undefined) {
        return yield* Effect.dieMessage(
          `AuthServer: grant type ${grant.grantType} issued a token to no client (give clientId)`
        )
      }
      const issuedTo: OAuth.Client = id === client?.id ? client : options.lookup(id) ?? {
        id,
        secret: "",
        method: "none",
        tokenLifetime: options.defaultLifetime,
        scopes: undefined
      }
      const scope = answer.scope ??
        (yield* Either.flatMap(param(context.request.form, "scope"), (s) => grantedScope(issuedTo, s)))
      const token = yield* context.issue({
        client: issuedTo,
        grantType: grant.grantType,
        scope,
        lifetime: answer.lifetime === undefined ? undefined : Duration.decode(answer.lifetime)
      })
      return answer.extra === undefined ? { token } : { token, extra: answer.extra }
    })
})
