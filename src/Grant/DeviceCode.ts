/**
 * The device authorization grant (RFC 8628), seed 004's re-authentication: the user approves on another
 * device, and the token is kept alive by its refresh token.
 *
 * A token request trades the current token's refresh token when it has one. When it has none, or the
 * server refuses it (`invalid_grant`), the device flow runs: a code from the device authorization
 * endpoint, handed to your `prompt` (`userCode`, `verificationUri`, `verificationUriComplete`), then the
 * token endpoint polled every `interval` (the server's, else 5 s; 5 s more after `slow_down`; longer
 * after a transient failure) until the user approves. A denial fails with `access_denied`
 * (`TokenError.isAccessDenied`), a code that runs out with `expired_token` (`TokenError.isExpiredToken`);
 * neither is retried. All waits are `Effect.sleep`: `TestClock` drives them in tests.
 *
 * The grant is `interactive`: the token service gives it no per-attempt timeout (a login takes
 * minutes); each HTTP exchange has its own (`httpTimeout`, 10 s). `get` waits for the login while
 * there is no valid token; with `TokenService.layer({ refreshAhead: true })` a token that is due but
 * still valid keeps being served while a renewal (or a new login) goes on in the background. With
 * `TokenStore.layerFile`, a restart goes on with the saved refresh token instead of asking the user
 * again.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Console from "effect/Console"
import type * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Discovery from "../Discovery.js"
import type * as Grant from "../Grant.js"
import * as InternalDeviceCode from "../internal/deviceCode.js"
import * as Endpoint from "../internal/endpoint.js"
import { Grant as GrantTag, makeKey, scopeList } from "../internal/grant.js"
import type { Service } from "../internal/grant.js"
import * as GrantConfig from "../internal/grantConfig.js"
import * as RefreshTokens from "../internal/refreshTokenGrant.js"
import * as TokenEndpoint from "../internal/tokenEndpoint.js"

/**
 * What the user needs to approve a device flow, as the prompt gets it (RFC 8628 §3.2, §3.3).
 *
 * @since 0.1.0
 * @category models
 */
export interface DeviceAuthorization {
  /** The code the user enters at `verificationUri`. Short-lived, meant to be shown. */
  readonly userCode: string
  readonly verificationUri: string
  /** The verification URI with the user code in it (for a link or a QR code), when the server sends one. */
  readonly verificationUriComplete?: string
  /** How long the code is valid, and until when (by the Clock): the flow gives up then. */
  readonly expiresIn: Duration.Duration
  readonly expiresAt: DateTime.Utc
  /** How often the token endpoint is polled (at first: `slow_down` adds 5 s). */
  readonly interval: Duration.Duration
}

/**
 * Where the device flow's endpoints are: both URLs, or the issuer whose metadata names them.
 *
 * @since 0.1.0
 * @category models
 */
export type EndpointOptions =
  | { readonly tokenUrl: string; readonly deviceAuthorizationUrl: string; readonly issuer?: undefined }
  | {
    readonly issuer: string | Discovery.Discovery
    readonly tokenUrl?: undefined
    readonly deviceAuthorizationUrl?: undefined
  }

/**
 * What names the grant's tokens: the token URL (or issuer), the client, the scope and the audience.
 * The device authorization URL is accepted and left out of the key. No secret.
 *
 * @since 0.1.0
 * @category models
 */
export type KeyOptions = Grant.TokenEndpointOptions & {
  readonly deviceAuthorizationUrl?: string | undefined
  readonly clientId: string
  /** Space-separated scopes, or a list (`offline_access` asks many servers for a refresh token). */
  readonly scope?: string | ReadonlyArray<string> | undefined
  /** `audience` (Auth0). Not sent when absent. */
  readonly audience?: string | undefined
}

/**
 * The options of the device grant other than its prompt: what `optionsConfig` reads.
 *
 * @since 0.1.0
 * @category models
 */
export type Settings =
  & EndpointOptions
  & Grant.ClientAuthOptions
  & Omit<KeyOptions, "tokenUrl" | "issuer" | "deviceAuthorizationUrl">
  & {
    /** More form parameters for the device authorization request, sent as given. */
    readonly extraParams?: Readonly<Record<string, string>> | undefined
    /** A refresh token from an earlier login, tried before a device flow is started. */
    readonly refreshToken?: Redacted.Redacted<string> | undefined
    /** The polling interval when the server sends none. Default: 5 seconds (RFC 8628 §3.2). */
    readonly interval?: Duration.DurationInput | undefined
    /** The longest one HTTP exchange (a poll, a refresh) may take. Default: 10 seconds. */
    readonly httpTimeout?: Duration.DurationInput | undefined
  }

/**
 * The options of the device grant.
 *
 * @since 0.1.0
 * @category models
 */
export type Options = Settings & {
  /**
   * Shows the user where to go and what code to enter. Called once per device flow, before polling
   * starts; the flow waits for the approval, not for the prompt's user.
   */
  readonly prompt: (authorization: DeviceAuthorization) => Effect.Effect<void>
}

/**
 * A prompt that prints the verification URI and the user code to the console.
 *
 * @since 0.1.0
 * @category prompts
 */
export const consolePrompt = (authorization: DeviceAuthorization): Effect.Effect<void> =>
  Console.log(
    [
      `To sign in, open ${authorization.verificationUri} and enter the code ${authorization.userCode}`,
      ...(authorization.verificationUriComplete === undefined
        ? []
        : [`(or open ${authorization.verificationUriComplete})`]),
      `The code expires in ${Duration.format(authorization.expiresIn)}.`
    ].join("\n")
  )

/**
 * The key a grant built from these options has, computed without building it.
 *
 * @example
 * ```ts
 * import * as DeviceCode from "tokenlayer/Grant/DeviceCode"
 *
 * const key = DeviceCode.key({ issuer: "https://auth.example.com", clientId: "my-cli", scope: "openid" })
 * ```
 *
 * @since 0.1.0
 * @category keys
 */
export const key = (options: KeyOptions): string =>
  makeKey("device_code", [
    ...Endpoint.keyParts(options),
    ["client", options.clientId],
    ["scope", scopeList(TokenEndpoint.scopeString(options.scope))],
    ["audience", options.audience]
  ])

/**
 * The grant as a value over the given client, built at once, without the checks of `make`: options that
 * `make` refuses fail every request instead, at once and without sending anything. Prefer `make` or
 * `layer`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeWith = (options: Options, client: HttpClient.HttpClient): Service => {
  const secrets = { refreshToken: options.refreshToken }
  const endpoint = Endpoint.make(options, client, {
    clientId: options.clientId,
    auth: Endpoint.clientAuthOf(options)
  }, secrets)
  return {
    key: key(options),
    interactive: true,
    request: InternalDeviceCode.request({
      endpoint,
      authorizationParams: TokenEndpoint.params([
        ["scope", TokenEndpoint.scopeString(options.scope)],
        ["audience", options.audience]
      ]).concat(Object.entries(options.extraParams ?? {})),
      prompt: options.prompt,
      interval: Duration.decode(options.interval ?? "5 seconds"),
      httpTimeout: Duration.decode(options.httpTimeout ?? "10 seconds"),
      tracker: RefreshTokens.makeTracker(options.refreshToken)
    }, client)
  }
}

/**
 * Builds the device grant over the `HttpClient` in context, or fails with the `ConfigError` of the
 * first endpoint option (`tokenUrl`, `deviceAuthorizationUrl`, `issuer`) that is not an http(s) URL.
 * No request is made until a token is asked for.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: Options) => Effect.Effect<Service, ConfigError.ConfigError, HttpClient.HttpClient> =
  Endpoint.checked<Options>(Endpoint.check, makeWith)

/**
 * The device grant as a layer, over the `HttpClient` in context.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { RefreshPolicy, TokenService, TokenStore } from "tokenlayer"
 * import * as DeviceCode from "tokenlayer/Grant/DeviceCode"
 *
 * const Tokens = TokenService.layer().pipe(
 *   Layer.provide(DeviceCode.layer({
 *     issuer: "https://auth.example.com", // its metadata names both endpoints
 *     clientId: "my-cli", // a public client: no secret
 *     scope: "openid offline_access",
 *     prompt: DeviceCode.consolePrompt
 *   })),
 *   Layer.provide([RefreshPolicy.fraction(0.1), TokenStore.layerFile({ directory: ".tokens" })]),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<GrantTag, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(GrantTag, make(options))

/**
 * The options other than the prompt, through `Config`: `ISSUER`, or `TOKEN_URL` and
 * `DEVICE_AUTHORIZATION_URL`; `CLIENT_ID`; and optionally `CLIENT_SECRET` (absent: a public client),
 * `CLIENT_AUTH`, `SCOPE`, `AUDIENCE`.
 *
 * @since 0.1.0
 * @category config
 */
export const optionsConfig: Config.Config<Settings> = Config.zipWith(
  GrantConfig.common,
  Config.all({
    deviceAuthorizationUrl: GrantConfig.optional(GrantConfig.url("DEVICE_AUTHORIZATION_URL")),
    audience: GrantConfig.optional(Config.string("AUDIENCE"))
  }),
  (common, c) => ({ common, ...c })
).pipe(
  Config.mapOrFail(({ audience, common, deviceAuthorizationUrl }): Either.Either<
    Settings,
    ConfigError.ConfigError
  > => {
    const extra = audience === undefined ? {} : { audience }
    if (common.issuer !== undefined) return Either.right({ ...common, ...extra })
    if (deviceAuthorizationUrl === undefined) {
      return Either.left(
        ConfigError.MissingData(["DEVICE_AUTHORIZATION_URL"], "Expected ISSUER or DEVICE_AUTHORIZATION_URL to be set")
      )
    }
    return Either.right({ ...common, ...extra, deviceAuthorizationUrl })
  })
)

/**
 * The device grant, its options read through `Config` (by default `optionsConfig`), with your prompt.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Config, Layer } from "effect"
 * import * as DeviceCode from "tokenlayer/Grant/DeviceCode"
 *
 * // reads MYAPP_ISSUER, MYAPP_CLIENT_ID, MYAPP_SCOPE, ...
 * const MyApp = DeviceCode.layerConfig(DeviceCode.consolePrompt, Config.nested(DeviceCode.optionsConfig, "MYAPP"))
 *   .pipe(Layer.provide(NodeHttpClient.layerUndici))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  prompt: (authorization: DeviceAuthorization) => Effect.Effect<void>,
  config: Config.Config<Settings> = optionsConfig
): Layer.Layer<GrantTag, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(GrantTag, Effect.flatMap(config, (settings) => make({ ...settings, prompt })))
