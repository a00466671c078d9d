/**
 * RFC 8693 token exchange in the embedded `AuthServer` (`Options.tokenExchange`): a subject token (and,
 * for delegation, an actor token) this server issued or a trusted issuer signed, traded for a new access
 * token for the requested audiences and resources. What it checks and how it refuses is said on
 * `TokenExchangeOptions`.
 *
 * Refusals never quote a token: a description names the parameter and what was wrong with it.
 *
 * @internal
 */
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as AuthServer from "../AuthServer.js"
import { tokenExchangeGrantType, TokenType } from "../AuthServer/grants.js"
import * as JwtVerify from "./jwtVerify.js"
import { grantedScope, invalidRequest, OAuthError, param } from "./oauthBase.js"
import type * as OAuth from "./oauthServer.js"

/** @internal */
export interface Options {
  readonly exchange: AuthServer.TokenExchangeOptions
  /** An access token this server issued, by value. */
  readonly token: (value: string) => OAuth.TokenRecord | undefined
  /** The default audiences of a trusted issuer's tokens: the server's issuer URL and token URL. */
  readonly audiences: ReadonlyArray<string>
}

/** A subject or actor token, checked: whose it is, its scope, when it expires. */
interface Party {
  readonly id: string
  readonly type: string
  readonly scope: ReadonlyArray<string>
  readonly expiresAt: DateTime.Utc
}

const jwtTypes: ReadonlyArray<string> = [TokenType.jwt, TokenType.idToken]

const invalidTarget = (description: string): OAuthError =>
  new OAuthError({ status: 400, error: "invalid_target", description })

/** A parameter that must be there once (RFC 6749 §3.2: never repeated), not empty. */
const required = (form: URLSearchParams, name: string): Either.Either<string, OAuthError> =>
  Either.flatMap(
    param(form, name),
    (value) =>
      value === undefined || value === "" ? Either.left(invalidRequest(`missing ${name}`)) : Either.right(value)
  )

/** An absolute URI without a fragment (RFC 8693 §2.1, RFC 8707 §2). */
const isAbsoluteUri = (value: string): boolean => {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(value) || value.includes("#")) return false
  try {
    new URL(value)
    return true
  } catch {
    return false
  }
}

/** The `audience` or `resource` values of a request, each checked against what the server issues for. */
const targets = (
  form: URLSearchParams,
  name: "audience" | "resource",
  allowed: ReadonlyArray<string> | undefined
): Either.Either<ReadonlyArray<string>, OAuthError> => {
  const values = form.getAll(name)
  for (const value of values) {
    if (value === "") return Either.left(invalidTarget(`an empty ${name}`))
    if (name === "resource" && !isAbsoluteUri(value)) {
      return Either.left(invalidTarget("a resource must be an absolute URI without a fragment"))
    }
    if (allowed !== undefined && !allowed.includes(value)) {
      return Either.left(invalidTarget(`this server issues no token for that ${name}`))
    }
  }
  return Either.right([...new Set(values)])
}

/** @internal */
export const make = (options: Options): OAuth.GrantHandler => {
  const { exchange } = options

  const issuers = new Map(
    (exchange.trustedIssuers ?? []).map((trusted) =>
      [trusted.issuer, {
        trusted,
        key: JwtVerify.verifyKey(`trusted issuer ${trusted.issuer}`, trusted)
      }] as const
    )
  )
  const types = [TokenType.accessToken, ...(issuers.size === 0 ? [] : jwtTypes)]

  /** An access token issued here, live. */
  const issuedHere = (name: string, value: string, now: DateTime.Utc): Either.Either<Party, OAuthError> => {
    const record = options.token(value)
    if (record === undefined) return Either.left(invalidRequest(`${name} is not a token this server issued`))
    if (record.revoked) return Either.left(invalidRequest(`${name} was revoked`))
    if (!DateTime.lessThan(now, record.expiresAt)) return Either.left(invalidRequest(`${name} has expired`))
    return Either.right({
      id: record.clientId,
      type: TokenType.accessToken,
      scope: record.scope,
      expiresAt: record.expiresAt
    })
  }

  /** A JWT a trusted issuer signed, checked as `TrustedIssuer` says. */
  const signedJwt = (name: string, value: string, type: string): Effect.Effect<Party, OAuthError> => {
    const iss = JwtVerify.unverifiedClaims(value)?.iss
    const issuer = typeof iss === "string" ? issuers.get(iss) : undefined
    if (issuer === undefined) return Effect.fail(invalidRequest(`${name} is not signed by a trusted issuer`))
    return JwtVerify.verify(value, {
      key: issuer.key,
      issuer: issuer.trusted.issuer,
      subject: undefined,
      subjectRequired: false,
      audiences: issuer.trusted.audiences ?? options.audiences,
      jtiRequired: false,
      jtis: undefined,
      maxLifetimeSeconds: Infinity
    }).pipe(
      Effect.mapError((why) => invalidRequest(`${name}: ${why}`)),
      Effect.map((claims): Party => ({
        id: typeof claims.sub === "string" ? claims.sub : issuer.trusted.issuer,
        type,
        scope: typeof claims.scope === "string" ? claims.scope.split(" ").filter((s) => s !== "") : [],
        expiresAt: DateTime.unsafeMake((claims.exp as number) * 1000)
      }))
    )
  }

  /** A subject or actor token: of a type the server takes, issued here or signed by a trusted issuer, live. */
  const validToken = (
    form: URLSearchParams,
    name: "subject_token" | "actor_token",
    now: DateTime.Utc
  ): Effect.Effect<Party, OAuthError> =>
    Effect.gen(function*() {
      const value = yield* required(form, name)
      const type = yield* required(form, `${name}_type`)
      if (!types.includes(type)) {
        return yield* Effect.fail(invalidRequest(`${name}_type is not supported here (only ${types.join(", ")})`))
      }
      return type === TokenType.accessToken ? yield* issuedHere(name, value, now) : yield* signedJwt(name, value, type)
    })

  return {
    grantType: tokenExchangeGrantType,
    handle: (context) =>
      Effect.gen(function*() {
        const client = yield* context.authenticateClient
        if (exchange.clients !== undefined && !exchange.clients.includes(client.id)) {
          return yield* Effect.fail(
            new OAuthError({
              status: 400,
              error: "unauthorized_client",
              description: `client ${client.id} may not exchange tokens`
            })
          )
        }
        const form = context.request.form
        const now = yield* DateTime.now
        const subject = yield* validToken(form, "subject_token", now)
        const actorToken = yield* param(form, "actor_token")
        const actorType = yield* param(form, "actor_token_type")
        if (actorToken === undefined && actorType !== undefined) {
          return yield* Effect.fail(invalidRequest("actor_token_type without actor_token"))
        }
        const actor = actorToken === undefined ? undefined : yield* validToken(form, "actor_token", now)
        const requested = yield* param(form, "requested_token_type")
        if (requested !== undefined && requested !== TokenType.accessToken) {
          return yield* Effect.fail(
            invalidRequest(`requested_token_type is not supported here (only ${TokenType.accessToken})`)
          )
        }
        const audience = yield* targets(form, "audience", exchange.audiences)
        const resource = yield* targets(form, "resource", exchange.resources)
        const asked = yield* param(form, "scope")
        // without `scope`: the subject's scope, as far as the client may have it
        const scope = asked === undefined || asked.trim() === ""
          ? subject.scope.filter((s) => client.scopes === undefined || client.scopes.includes(s))
          : yield* grantedScope(client, asked)
        const lifetime = Duration.decode(exchange.tokenLifetime ?? client.tokenLifetime)
        const left = Duration.millis(Math.max(0, DateTime.distance(now, subject.expiresAt)))
        const token = yield* context.issue({
          client,
          grantType: tokenExchangeGrantType,
          scope,
          lifetime: exchange.capToSubject === false ? lifetime : Duration.min(lifetime, left),
          exchange: {
            subject: subject.id,
            subjectTokenType: subject.type,
            ...(actor === undefined ? {} : { actor: actor.id }),
            audience,
            resource,
            issuedTokenType: TokenType.accessToken
          }
        })
        return { token, extra: { issued_token_type: TokenType.accessToken } }
      })
  }
}
