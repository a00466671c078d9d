/**
 * The JWT bearer grant (RFC 7523 §2.1), the flow of Disruptive Technologies' service accounts: every
 * token request carries a new assertion, a JWT with header `alg` and `kid`, claims `iss`, `sub` (when
 * given), `aud` (default: the token URL), `iat` (now, by the `Clock`), `exp` (`iat` + `lifetime`,
 * default 1 hour) and a random `jti`, sent as
 * `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=...`.
 *
 * The key is read, and one trial assertion signed, when the grant is built: a key that cannot sign fails
 * the layer with a `KeyError` (never showing the key), not a token request.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as ClientAuth from "../ClientAuth.js"
import { none as ClientAuthNone } from "../ClientAuth.js"
import * as Endpoint from "../internal/endpoint.js"
import { Grant as GrantTag, makeKey, requestKey, requestOverrides } from "../internal/grant.js"
import type { Service } from "../internal/grant.js"
import * as GrantConfig from "../internal/grantConfig.js"
import * as Jwt from "../internal/jwt.js"
import * as Internal from "../internal/jwtBearer.js"
import * as TokenEndpoint from "../internal/tokenEndpoint.js"
import * as Source from "../internal/tokenSource.js"
import type { KeyError } from "../TokenError.js"

/**
 * The `grant_type` of the JWT bearer grant (RFC 7523 §2.1).
 *
 * @since 0.1.0
 * @category constants
 */
export const grantType: "urn:ietf:params:oauth:grant-type:jwt-bearer" = Internal.grantType

/**
 * What names the grant's tokens: the token URL, the assertion's issuer, subject and audience, the
 * scope, the client. Never the key or the key id (a rotated key still speaks for the same account).
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyOptions {
  /** The token endpoint. Also the default `aud`. */
  readonly tokenUrl: string
  /** The `iss` claim: who signs (Disruptive Technologies: the service account's email). */
  readonly issuer: string
  /** The `sub` claim: whom the token is for. Not sent when absent (Disruptive Technologies sends none). */
  readonly subject?: string | undefined
  /** The `aud` claim. Default: the token URL. */
  readonly audience?: string | ReadonlyArray<string> | undefined
  /** Space-separated scopes, or a list. Not sent when absent or empty. */
  readonly scope?: string | ReadonlyArray<string> | undefined
  /** A client that also authenticates (see `Options`). */
  readonly clientId?: string | undefined
}

/**
 * The options of the JWT bearer grant: where to ask (`tokenUrl`), what the assertion says (`issuer`,
 * optional `subject`, `audience` (default: the token URL), `keyId`, `lifetime` (default 1 hour), `jti`
 * (default on), more `claims`), and how it is signed: a `secret` (HS256, or `alg` HS384 / HS512) or a
 * `privateKey` (RS256, ES256, ...: see `ClientAuth.PrivateKey`). Optionally `scope`, `extraParams`,
 * and `clientId` with `clientAuth` for a server that also wants the client to authenticate.
 *
 * @since 0.1.0
 * @category models
 */
export type Options =
  & Omit<KeyOptions, "clientId">
  & {
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
 * The key a grant built from these options has (`grant=urn...jwt-bearer;url=...;iss=...`), computed
 * without the signing key.
 *
 * @example
 * ```ts
 * import * as JwtBearer from "tokenlayer/Grant/JwtBearer"
 *
 * const key = JwtBearer.key({
 *   tokenUrl: "https://identity.disruptive-technologies.com/oauth2/token",
 *   issuer: "my-account@my-project.serviceaccount.d21s.com"
 * })
 * ```
 *
 * @since 0.1.0
 * @category keys
 */
export const key = (options: KeyOptions): string => makeKey(grantType, Internal.keyParts(options))

const signerFor = (options: Options): Effect.Effect<Jwt.Signer, KeyError> =>
  options.secret !== undefined
    ? Effect.succeed(Jwt.hmacSigner("jwt-bearer", options.secret, options.alg))
    : Jwt.privateKeySigner("jwt-bearer", options.privateKey, options.alg)

/**
 * The grant as a value over the given client: reads the key and signs one trial assertion with every
 * option (so a bad key or an extra claim that cannot be serialised fails here, as a `KeyError`), then
 * signs a new assertion for every token request. Without the checks of `make`: options that `make`
 * refuses (a token URL that is not an http(s) URL) and an empty secret fail every request instead, at
 * once and without sending anything. Prefer `make` or `layer`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeWith = (options: Options, client: HttpClient.HttpClient): Effect.Effect<Service, KeyError> =>
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

    const params = TokenEndpoint.params([["scope", TokenEndpoint.scopeString(options.scope)]])
      .concat(Object.entries(options.extraParams ?? {}))
    const endpoint = Endpoint.make(
      { tokenUrl: options.tokenUrl },
      client,
      options.clientId === undefined ? {} : { clientId: options.clientId, auth: options.clientAuth },
      { secret: options.secret }
    )
    const requestWith = (
      claims: Jwt.AssertionOptions,
      form: ReadonlyArray<TokenEndpoint.Param>
    ): Service["request"] =>
    () =>
      Effect.flatMap(
        Jwt.assertionOrDie(signer, claims),
        (assertion) => TokenEndpoint.grantRequest(client, endpoint, grantType, [["assertion", assertion], ...form])
      )
    const base = key(options)
    return {
      key: base,
      request: requestWith(assertionOptions, params),
      // a user's token: the assertion's `sub`; the request's scope, audience, resources and parameters
      // in the form (the assertion's `aud` stays the grant's)
      forRequest: (request) => ({
        key: requestKey(base, request),
        request: requestWith(
          request.subject === undefined ? assertionOptions : { ...assertionOptions, subject: request.subject },
          requestOverrides(params, request)
        )
      })
    }
  })

/**
 * The grant as a value over the `HttpClient` in context. Fails with a `ConfigError` naming the option
 * when `tokenUrl` is not an http(s) URL (an empty secret fails the first request instead), and with a
 * `KeyError` when the key cannot sign (a bad PEM, a key that does not fit `alg`). Nothing is sent here.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options: Options
) => Effect.Effect<Service, ConfigError.ConfigError | KeyError, HttpClient.HttpClient> = Endpoint.checked(
  (options: Options) => Endpoint.check({ tokenUrl: options.tokenUrl }),
  makeWith
)

/**
 * The JWT bearer grant as a layer, over the `HttpClient` in context.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer, Redacted } from "effect"
 * import * as JwtBearer from "tokenlayer/Grant/JwtBearer"
 *
 * // Disruptive Technologies: a service account's key id, email and secret
 * const DT = JwtBearer.layer({
 *   tokenUrl: "https://identity.disruptive-technologies.com/oauth2/token",
 *   keyId: "my-key-id",
 *   issuer: "my-account@my-project.serviceaccount.d21s.com",
 *   secret: Redacted.make("my-secret")
 * }).pipe(Layer.provide(NodeHttpClient.layerUndici))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<GrantTag, ConfigError.ConfigError | KeyError, HttpClient.HttpClient> =>
  Layer.effect(GrantTag, make(options))

/**
 * The options through `Config`: `TOKEN_URL`, `ISSUER`, `KEY_ID` (optional), and `SECRET` (HMAC) or
 * `PRIVATE_KEY` (a PEM), both with `Config.redacted`; optionally `ALG`, `SUBJECT`, `AUDIENCE` and
 * `SCOPE`. Nest them with `Config.nested("X")` to read `X_TOKEN_URL` and so on, or build the options
 * from names of your own with `Config.all` (see `layerConfig`).
 *
 * @since 0.1.0
 * @category config
 */
export const optionsConfig: Config.Config<Options> = Config.all({
  tokenUrl: GrantConfig.url("TOKEN_URL"),
  issuer: Config.nonEmptyString("ISSUER"),
  keyId: GrantConfig.optional(Config.nonEmptyString("KEY_ID")),
  subject: GrantConfig.optional(Config.nonEmptyString("SUBJECT")),
  audience: GrantConfig.optional(Config.nonEmptyString("AUDIENCE")),
  scope: GrantConfig.optional(Config.string("SCOPE")),
  alg: GrantConfig.optional(
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
  secret: GrantConfig.optional(GrantConfig.secret("SECRET")),
  privateKey: GrantConfig.optional(GrantConfig.secret("PRIVATE_KEY"))
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

/**
 * The JWT bearer grant, its options read through `Config` (by default `optionsConfig`). Fails with a
 * `ConfigError` when a setting is missing or cannot work, and a `KeyError` when the key cannot sign.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Config, Layer } from "effect"
 * import * as JwtBearer from "tokenlayer/Grant/JwtBearer"
 *
 * // Disruptive Technologies' variables, as in their guide
 * const DT = JwtBearer.layerConfig(Config.all({
 *   tokenUrl: Config.succeed("https://identity.disruptive-technologies.com/oauth2/token"),
 *   keyId: Config.string("DT_SERVICE_ACCOUNT_KEY_ID"),
 *   issuer: Config.string("DT_SERVICE_ACCOUNT_EMAIL"),
 *   secret: Config.redacted("DT_SERVICE_ACCOUNT_SECRET")
 * })).pipe(Layer.provide(NodeHttpClient.layerUndici))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<Options> = optionsConfig
): Layer.Layer<GrantTag, ConfigError.ConfigError | KeyError, HttpClient.HttpClient> =>
  Layer.effect(GrantTag, Effect.flatMap(config, make))

// -----------------------------------------------------------------------------
// an assertion made by someone else (a workload identity)
// -----------------------------------------------------------------------------

/**
 * The options of the JWT bearer grant whose assertion is made by someone else: a `TokenSource` (a
 * workload identity's token file, a CI job's OIDC token), read before each request, instead of a key
 * to sign with. Optionally `scope`, `extraParams`, and `clientId` with `clientAuth`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SourceOptions {
  readonly tokenUrl: string
  readonly assertion: Source.TokenSource
  readonly scope?: string | ReadonlyArray<string> | undefined
  readonly extraParams?: Readonly<Record<string, string>> | undefined
  readonly clientId?: string | undefined
  readonly clientAuth?: ClientAuth.ClientAuth | undefined
}

/**
 * The key of a grant built from `SourceOptions`: the token URL, the source's name (never its token),
 * the scope, the client.
 *
 * @since 0.1.0
 * @category keys
 */
export const sourceKey = (
  options: Omit<SourceOptions, "assertion"> & { readonly assertion: { readonly name: string } }
) =>
  makeKey(grantType, [
    ...Internal.keyParts({ tokenUrl: options.tokenUrl, issuer: "", scope: options.scope, clientId: options.clientId }),
    ["assertion", options.assertion.name]
  ])

/**
 * The JWT bearer grant with an assertion from a source, over the `HttpClient` in context: a
 * `ConfigError` when `tokenUrl` is not an http(s) URL. An assertion past its `exp` is never sent (an
 * `HttpError` naming the source).
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { TokenSource } from "tokenlayer"
 * import * as JwtBearer from "tokenlayer/Grant/JwtBearer"
 *
 * const Federated = JwtBearer.layerFromSource({
 *   tokenUrl: "https://auth.example.com/oauth2/token",
 *   assertion: TokenSource.file("/var/run/secrets/tokens/identity")
 * }).pipe(Layer.provide(NodeHttpClient.layerUndici))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeFromSource: (
  options: SourceOptions
) => Effect.Effect<Service, ConfigError.ConfigError, HttpClient.HttpClient> = Endpoint.checked(
  (options: SourceOptions) => Endpoint.check({ tokenUrl: options.tokenUrl }),
  (options: SourceOptions, client: HttpClient.HttpClient): Service => {
    const params = TokenEndpoint.params([["scope", TokenEndpoint.scopeString(options.scope)]])
      .concat(Object.entries(options.extraParams ?? {}))
    const endpoint = Endpoint.make(
      { tokenUrl: options.tokenUrl },
      client,
      options.clientId === undefined ? {} : { clientId: options.clientId, auth: options.clientAuth ?? ClientAuthNone }
    )
    return {
      key: sourceKey(options),
      request: () =>
        Effect.flatMap(
          Source.usable(options.assertion),
          (assertion) =>
            TokenEndpoint.grantRequest(client, endpoint, grantType, [["assertion", assertion.token], ...params])
        )
    }
  }
)

/**
 * `makeFromSource` as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromSource = (
  options: SourceOptions
): Layer.Layer<GrantTag, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(GrantTag, makeFromSource(options))
