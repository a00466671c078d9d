/**
 * The JWT bearer grant (RFC 7523 §2.1): a token for a signed assertion, the flow of Disruptive
 * Technologies' service accounts. The public face is in `Grant.ts` (`jwtBearer`, `jwtBearerConfig`).
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import type * as ClientAuth from "../ClientAuth.js"
import type * as Grant from "../Grant.js"
import type { KeyError } from "../TokenError.js"
import * as Jwt from "./jwt.js"
import * as TokenEndpoint from "./tokenEndpoint.js"

/** @internal */
export const grantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"

/**
 * The options of `Grant.jwtBearer` (documented there).
 *
 * @internal
 */
export type Options =
  & {
    /** The token endpoint. Also the default `aud`. */
    readonly tokenUrl: string
    /** The `iss` claim: who signs (Disruptive Technologies: the service account's email). */
    readonly issuer: string
    /** The `sub` claim: whom the token is for. Not sent when absent (Disruptive Technologies sends none). */
    readonly subject?: string | undefined
    /** The `aud` claim. Default: the token URL. */
    readonly audience?: string | ReadonlyArray<string> | undefined
    /** The `kid` header: the id under which the server knows the key. Not sent when absent. */
    readonly keyId?: string | undefined
    /**
     * From `iat` to `exp`, whole seconds (at least 1). Default: 1 hour, the most Disruptive Technologies
     * accepts; a server may accept less.
     */
    readonly lifetime?: Duration.DurationInput | undefined
    /** Whether each assertion carries a random `jti`, for servers that refuse replays. Default: `true`. */
    readonly jti?: boolean | undefined
    /** More claims. The standard ones above win over these. */
    readonly claims?: Readonly<Record<string, unknown>> | undefined
    /** Space-separated scopes, or a list. Not sent when absent or empty. */
    readonly scope?: string | ReadonlyArray<string> | undefined
    /** More form parameters, sent as given. */
    readonly extraParams?: Readonly<Record<string, string>> | undefined
  }
  & (
    /** The assertion is the credential: no client authentication (RFC 7523 §3.1 makes it optional). */
    | { readonly clientId?: undefined; readonly clientAuth?: undefined }
    /** A server that also wants the client to authenticate. */
    | { readonly clientId: string; readonly clientAuth: ClientAuth.ClientAuth }
  )
  & (
    /** A shared secret, HMAC (HS256 by default), as Disruptive Technologies' service accounts use. */
    | {
      readonly secret: Redacted.Redacted<string>
      readonly privateKey?: undefined
      readonly alg?: ClientAuth.HmacAlgorithm | undefined
    }
    /** A private key; `alg` defaults to what the key is for (RSA: RS256, EC P-256: ES256, ...). */
    | {
      readonly privateKey: ClientAuth.PrivateKey
      readonly secret?: undefined
      readonly alg?: ClientAuth.AsymmetricAlgorithm | undefined
    }
  )

const defaultLifetime = 3600

/**
 * The grant's cache key: what distinguishes its tokens (token URL, issuer, subject, audience, scope,
 * client), never the key or the key id (a rotated key still speaks for the same account).
 *
 * @internal
 */
export const keyParts = (
  options: Options
): ReadonlyArray<readonly [string, string | ReadonlyArray<string> | undefined]> => {
  const scope = TokenEndpoint.scopeString(options.scope)
  return [
    ...TokenEndpoint.urlKeyParts("url", options.tokenUrl),
    ["iss", options.issuer],
    ["sub", options.subject],
    ["aud", options.audience === undefined ? undefined : options.audience],
    ["scope", scope === undefined ? undefined : scope.split(/\s+/)],
    ["client", options.clientId]
  ]
}

const signerFor = (options: Options): Effect.Effect<Jwt.Signer, KeyError> =>
  options.secret !== undefined
    ? Effect.succeed(Jwt.hmacSigner("jwt-bearer", options.secret, options.alg))
    : Jwt.privateKeySigner("jwt-bearer", options.privateKey, options.alg)

/**
 * The grant as a value: reads the key and signs one trial assertion with every option (so a bad key or
 * an extra claim that cannot be serialised fails here, as a `KeyError`), then signs a new assertion for
 * every token request.
 *
 * @internal
 */
export const make = (
  options: Options,
  client: HttpClient.HttpClient,
  key: string
): Effect.Effect<Grant.Service, KeyError> =>
  Effect.gen(function*() {
    const signer = yield* signerFor(options)
    const assertionOptions: Jwt.AssertionOptions = {
      keyId: options.keyId,
      issuer: options.issuer,
      subject: options.subject,
      audience: options.audience ?? options.tokenUrl,
      lifetime: options.lifetime === undefined ? defaultLifetime : Jwt.lifetimeSeconds(options.lifetime),
      jti: options.jti ?? true,
      claims: options.claims
    }
    yield* Jwt.assertion(signer, assertionOptions)

    const grantParams = TokenEndpoint.params([["scope", TokenEndpoint.scopeString(options.scope)]])
      .concat(Object.entries(options.extraParams ?? {}))
    const endpoint: TokenEndpoint.Endpoint = {
      tokenUrl: Effect.succeed(options.tokenUrl),
      clientId: options.clientId,
      auth: options.clientAuth
    }
    return {
      key,
      request: () =>
        Effect.flatMap(
          Jwt.assertionOrDie(signer, assertionOptions),
          (assertion) =>
            TokenEndpoint.grantRequest(client, endpoint, grantType, [["assertion", assertion], ...grantParams])
        )
    }
  })

const optional = <A>(config: Config.Config<A>): Config.Config<A | undefined> =>
  Config.map(Config.option(config), Option.getOrUndefined)

/**
 * `jwtBearerOptionsConfig`: `TOKEN_URL`, `ISSUER`, `KEY_ID` (optional), and `SECRET` (HS256) or
 * `PRIVATE_KEY` (a PEM), with optional `ALG`, `SUBJECT`, `AUDIENCE` and `SCOPE`.
 *
 * @internal
 */
export const optionsConfig: Config.Config<Options> = Config.all({
  tokenUrl: Config.url("TOKEN_URL").pipe(Config.map((url) => url.toString())),
  issuer: Config.nonEmptyString("ISSUER"),
  keyId: optional(Config.nonEmptyString("KEY_ID")),
  subject: optional(Config.nonEmptyString("SUBJECT")),
  audience: optional(Config.nonEmptyString("AUDIENCE")),
  scope: optional(Config.string("SCOPE")),
  alg: optional(
    Config.literal(
      "HS256",
      "HS384",
      "HS512",
      "RS256",
      "RS384",
      "RS512",
      "PS256",
      "PS384",
      "PS512",
      "ES256",
      "ES384",
      "ES512",
      "EdDSA"
    )("ALG")
  ),
  secret: optional(Config.redacted("SECRET")),
  privateKey: optional(Config.redacted("PRIVATE_KEY"))
}).pipe(
  Config.mapOrFail((c): Either.Either<Options, ConfigError.ConfigError> => {
    const common = {
      tokenUrl: c.tokenUrl,
      issuer: c.issuer,
      keyId: c.keyId,
      subject: c.subject,
      audience: c.audience,
      scope: c.scope
    }
    const hmac = c.alg === undefined || c.alg.startsWith("HS")
    if (c.secret !== undefined && c.privateKey !== undefined) {
      return Either.left(ConfigError.InvalidData(["SECRET"], "Expected SECRET or PRIVATE_KEY, not both"))
    }
    if (c.secret !== undefined) {
      return hmac
        ? Either.right({ ...common, secret: c.secret, alg: c.alg as Jwt.HmacAlgorithm | undefined })
        : Either.left(ConfigError.InvalidData(["ALG"], `Expected an HMAC algorithm (HS256) with SECRET, not ${c.alg}`))
    }
    if (c.privateKey !== undefined) {
      return c.alg !== undefined && hmac
        ? Either.left(ConfigError.InvalidData(["ALG"], `Expected RS256, ES256, ... with PRIVATE_KEY, not ${c.alg}`))
        : Either.right({ ...common, privateKey: c.privateKey, alg: c.alg as Jwt.AsymmetricAlgorithm | undefined })
    }
    return Either.left(ConfigError.MissingData(["SECRET"], "Expected SECRET or PRIVATE_KEY to be set"))
  })
)
